//! Table files: CSV (UTF-8 with or without BOM, or GB18030 as exported by Chinese office software) and
//! Excel (xlsx, xls, ods), read into a header row and rows of JSON values; written from rendered values.

use std::io::Cursor;

use serde_json::Value;

use crate::ExchangeError;

/// Most data rows one file may hold.
pub const ROWS_MAX: usize = 1_000_000;

/// A file's header and rows (cells as JSON: strings, numbers, booleans, null for empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Xlsx,
}

impl TableFormat {
    pub fn parse(raw: &str) -> Option<TableFormat> {
        match raw.to_ascii_lowercase().as_str() {
            "csv" | "text/csv" => Some(TableFormat::Csv),
            "xlsx" | "xls" | "ods" | "excel" => Some(TableFormat::Xlsx),
            other
                if other.contains("spreadsheetml")
                    || other.contains("ms-excel")
                    || other.contains("opendocument.spreadsheet") =>
            {
                Some(TableFormat::Xlsx)
            }
            _ => None,
        }
    }

    /// From a file name's extension.
    pub fn from_path(path: &str) -> Option<TableFormat> {
        TableFormat::parse(path.rsplit('.').next().unwrap_or(""))
    }
}

pub fn read(bytes: &[u8], format: TableFormat) -> Result<Sheet, ExchangeError> {
    match format {
        TableFormat::Csv => read_csv(bytes),
        TableFormat::Xlsx => read_excel(bytes),
    }
}

/// Decodes text: UTF-8 (a BOM is dropped), or GB18030 when the bytes are not UTF-8.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Sheet, ExchangeError> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|error| ExchangeError::Format(format!("the CSV header cannot be read: {error}")))?
        .iter()
        .map(|header| header.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record =
            record.map_err(|error| ExchangeError::Format(format!("CSV row {}: {error}", n + 2)))?;
        if rows.len() >= ROWS_MAX {
            return Err(ExchangeError::Format(format!(
                "a file holds at most {ROWS_MAX} rows"
            )));
        }
        rows.push(
            record
                .iter()
                .map(|cell| {
                    if cell.is_empty() {
                        Value::Null
                    } else {
                        Value::String(cell.to_owned())
                    }
                })
                .collect(),
        );
    }
    Ok(Sheet { headers, rows })
}

fn read_excel(bytes: &[u8]) -> Result<Sheet, ExchangeError> {
    use calamine::{Data, Reader};
    let mut workbook =
        calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).map_err(|error| {
            ExchangeError::Format(format!("not a spreadsheet Tenon can read: {error}"))
        })?;
    let name = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ExchangeError::Format("the workbook has no sheet".to_owned()))?;
    let range = workbook
        .worksheet_range(&name)
        .map_err(|error| ExchangeError::Format(format!("sheet {name}: {error}")))?;
    let mut rows = range.rows();
    let headers = rows
        .next()
        .map(|row| {
            row.iter()
                .map(|cell| cell.to_string().trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= ROWS_MAX {
            return Err(ExchangeError::Format(format!(
                "a file holds at most {ROWS_MAX} rows"
            )));
        }
        out.push(
            row.iter()
                .map(|cell| match cell {
                    Data::Empty | Data::Error(_) => Value::Null,
                    Data::String(text) if text.is_empty() => Value::Null,
                    Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => {
                        Value::String(text.clone())
                    }
                    Data::Int(number) => Value::from(*number),
                    Data::Bool(flag) => Value::Bool(*flag),
                    Data::Float(number) => {
                        if number.fract() == 0.0 && number.abs() < 9.0e15 {
                            Value::from(*number as i64)
                        } else {
                            Value::String(number.to_string())
                        }
                    }
                    Data::DateTime(moment) => match moment.as_datetime() {
                        Some(time) if time.time() == chrono::NaiveTime::MIN => {
                            Value::String(time.format("%Y-%m-%d").to_string())
                        }
                        Some(time) => Value::String(time.format("%Y-%m-%d %H:%M:%S").to_string()),
                        None => Value::Null,
                    },
                })
                .collect(),
        );
    }
    Ok(Sheet { headers, rows: out })
}

/// CSV with a UTF-8 BOM, so that Excel shows Chinese text correctly when opening it.
pub fn write_csv(sheet: &Sheet) -> Result<Vec<u8>, ExchangeError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |error: csv::Error| ExchangeError::Format(error.to_string());
    writer.write_record(&sheet.headers).map_err(fail)?;
    for row in &sheet.rows {
        writer.write_record(row.iter().map(text)).map_err(fail)?;
    }
    writer
        .into_inner()
        .map_err(|error| ExchangeError::Format(error.to_string()))
}

/// An xlsx workbook with one sheet; numbers and booleans keep their types.
pub fn write_xlsx(sheet: &Sheet, sheet_name: &str) -> Result<Vec<u8>, ExchangeError> {
    let fail = |error: rust_xlsxwriter::XlsxError| ExchangeError::Format(error.to_string());
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let worksheet = workbook.add_worksheet();
    let name: String = sheet_name
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    if !name.is_empty() {
        worksheet.set_name(&name).map_err(fail)?;
    }
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, header) in sheet.headers.iter().enumerate() {
        worksheet
            .write_string_with_format(0, column(col), header, &bold)
            .map_err(fail)?;
    }
    for (r, row) in sheet.rows.iter().enumerate() {
        let r = u32::try_from(r + 1)
            .map_err(|_| ExchangeError::Format("too many rows for a worksheet".to_owned()))?;
        for (col, value) in row.iter().enumerate() {
            match value {
                Value::Null => {}
                Value::Bool(flag) => {
                    worksheet
                        .write_boolean(r, column(col), *flag)
                        .map_err(fail)?;
                }
                Value::Number(number)
                    if number.is_i64() && number.as_i64().is_some_and(|n| n.abs() < 1 << 53) =>
                {
                    worksheet
                        .write_number(r, column(col), number.as_f64().unwrap_or_default())
                        .map_err(fail)?;
                }
                other => {
                    worksheet
                        .write_string(r, column(col), text(other))
                        .map_err(fail)?;
                }
            }
        }
    }
    workbook.save_to_buffer().map_err(fail)
}

fn column(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

/// A cell as text: strings as they are, lists joined with ", ", objects by their `name`.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Object(object) => object.get("name").map(text).unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_gb18030_with_chinese_headers_is_read() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("客户,金额\n湖州优品,1130.34\n,\n");
        let sheet = read(&bytes, TableFormat::Csv).unwrap();
        assert_eq!(sheet.headers, ["客户", "金额"]);
        assert_eq!(
            sheet.rows[0],
            [Value::from("湖州优品"), Value::from("1130.34")]
        );
        assert_eq!(sheet.rows[1], [Value::Null, Value::Null]);
    }

    #[test]
    fn csv_and_xlsx_round_trip_through_the_writers() {
        let sheet = Sheet {
            headers: vec!["名称".into(), "数量".into(), "已付".into()],
            rows: vec![
                vec![Value::from("家属1"), Value::from(3), Value::Bool(true)],
                vec![Value::from("B"), Value::Null, Value::Bool(false)],
            ],
        };
        let csv = read(&write_csv(&sheet).unwrap(), TableFormat::Csv).unwrap();
        assert_eq!(csv.headers, sheet.headers);
        assert_eq!(
            csv.rows[0],
            [Value::from("家属1"), Value::from("3"), Value::from("true")]
        );
        let xlsx = read(&write_xlsx(&sheet, "Bookings").unwrap(), TableFormat::Xlsx).unwrap();
        assert_eq!(xlsx.headers, sheet.headers);
        assert_eq!(xlsx.rows, sheet.rows);
    }
}
