//! The kanban, gallery and calendar views of a table page, rendered on the server: only the visible part
//! (the first cards of each column, the first cards of a gallery, one month or week of a calendar) is
//! read, each part with one records query built by the same code as the records API's. The `board`
//! island moves cards and events through the REST API (`If-Match`), loads more cards from [`part`] and
//! reads the board again from it when the event stream says a record changed.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tenon_model::apps::field::FieldKind;
use tenon_model::apps::filter::FilterContext;
use tenon_model::apps::view::{View, ViewType};
use tenon_model::apps::{Field, TableSchema};
use tenon_model::{PageRequest, Scope};
use tenon_server::AppState;
use tenon_server::routes::records_io::KeyBy;
use tenon_server::service::records::{self, ListRequest};

use crate::i18n;
use crate::session::Viewer;
use crate::templates;

/// Cards of a kanban column, and of a gallery, read at a time.
pub const CARDS_PER_PAGE: u32 = 50;
/// Events a calendar day shows before "N more", in a month and in a week.
const EVENTS_PER_DAY: usize = 4;
const EVENTS_PER_WEEK_DAY: usize = 30;
/// Events a calendar reads at a time, and at most.
const EVENTS_PAGE: u32 = 1000;
const EVENTS_MAX: usize = 20_000;
/// Fields a card shows when the view lists none.
const DEFAULT_CARD_FIELDS: usize = 3;

/// Where a board is and how it is looked at: `date` and `mode` (month or week) of a calendar.
#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    pub date: Option<String>,
    pub mode: Option<String>,
    /// A kanban column (its position) whose cards after `offset` are wanted.
    pub column: Option<usize>,
    pub offset: Option<u64>,
}

/// One record as a card or calendar event.
#[derive(Debug, Serialize)]
pub struct Card {
    id: String,
    version: i64,
    title: String,
    /// An image attachment's id (raster images only).
    cover: Option<String>,
    fields: Vec<CardValue>,
    /// Calendar events: the stored start and end (as the API gives them), and the local day a range ends.
    start: String,
    end: String,
    end_day: String,
    /// A kanban ordered by hand: the card's place in its column (its order field's value; empty for
    /// none, which comes first).
    rank: String,
}

#[derive(Debug, Serialize)]
struct CardValue {
    name: String,
    text: String,
}

#[derive(Debug, Serialize)]
pub struct Column {
    index: usize,
    /// The choice's name; `None` for the column of records without one.
    choice: Option<String>,
    color: String,
    total: i64,
    cards: Vec<Card>,
    /// Where the next cards start, when there are more.
    more: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Day {
    date: String,
    number: u32,
    in_range: bool,
    today: bool,
    events: Vec<Card>,
    more: usize,
}

/// What the template shows for a board view.
#[derive(Debug, Serialize)]
pub struct Board {
    kind: &'static str,
    view_id: String,
    view_name: String,
    /// Why the view cannot be shown (a field it needs is gone or of the wrong type), as a catalog key.
    problem: Option<&'static str>,
    group_field: Option<String>,
    /// A kanban ordered by hand: the number field its cards' places are kept in, and that field's
    /// decimals (a place between two others must fit them).
    order_field: Option<String>,
    order_precision: u32,
    date_field: Option<String>,
    end_date_field: Option<String>,
    columns: Vec<Column>,
    cards: Vec<Card>,
    total: i64,
    more: Option<u64>,
    /// Calendar: weeks of days, the period's title parts and the links around it.
    weeks: Vec<Vec<Day>>,
    mode: &'static str,
    year: i32,
    month: u32,
    first: String,
    last: String,
    date: String,
    previous: String,
    next: String,
    today: String,
    /// The day a new record made on a calendar gets (today when it is shown, else the period's first),
    /// and whether the date field holds dates or date-times.
    new_date: String,
    date_kind: &'static str,
    /// The 视图设置|View settings dialog's choices.
    settings: Option<crate::board_settings::Settings>,
}

impl Board {
    fn empty(kind: &'static str, view: &View) -> Board {
        Board {
            kind,
            view_id: view.id.to_string(),
            view_name: view.name.to_string(),
            problem: None,
            group_field: None,
            order_field: None,
            order_precision: 0,
            date_field: None,
            end_date_field: None,
            columns: Vec::new(),
            cards: Vec::new(),
            total: 0,
            more: None,
            weeks: Vec::new(),
            mode: "month",
            year: 0,
            month: 0,
            first: String::new(),
            last: String::new(),
            date: String::new(),
            previous: String::new(),
            next: String::new(),
            today: String::new(),
            new_date: String::new(),
            date_kind: "date",
            settings: None,
        }
    }
}

/// Whether a view is shown by this module.
pub fn is_board(view: &View) -> bool {
    matches!(
        view.view_type,
        ViewType::Kanban | ViewType::Gallery | ViewType::Calendar
    )
}

/// What a read asks for besides the filter.
struct Want<'a> {
    sort: &'a str,
    size: u32,
    offset: u64,
    count: bool,
    after: Option<tenon_store::Cursor>,
    /// Only these fields (keys), when the page needs few.
    fields: Option<Vec<&'a str>>,
}

impl<'a> Want<'a> {
    fn first(sort: &'a str, size: u32, offset: u64) -> Want<'a> {
        Want {
            sort,
            size,
            offset,
            count: true,
            after: None,
            fields: None,
        }
    }
}

fn list_request<'a>(
    filter: Option<&'a Value>,
    sort: &'a str,
    want: &Want<'a>,
) -> Result<ListRequest<'a>, StatusCode> {
    Ok(ListRequest {
        filter,
        sort,
        fields: want.fields.clone(),
        formula: None,
        page: PageRequest::new(want.size, want.after.clone())
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?,
        offset: want.offset,
        count: want.count,
    })
}

struct Page {
    items: Vec<Value>,
    total: Option<i64>,
    next: Option<tenon_store::Cursor>,
}

struct Reader<'a> {
    state: &'a AppState,
    org: tenon_model::OrgId,
    schema: &'a TableSchema,
    view: &'a View,
    context: FilterContext,
    tz: chrono_tz::Tz,
}

impl Reader<'_> {
    /// The field a card is titled and named by: the primary field, else the first (as the grid does).
    fn title_field(&self) -> Option<&Field> {
        self.schema
            .primary_field()
            .or_else(|| self.schema.fields.first())
    }

    /// The view's filter and `extra`, both.
    fn filter(&self, extra: Option<Value>) -> Option<Value> {
        match (self.view.filter().cloned(), extra) {
            (Some(own), Some(extra)) => Some(json!({"and": [own, extra]})),
            (own, extra) => own.or(extra),
        }
    }

    /// Reads records matching the view's filter and `extra`. A view filter or sort that no longer fits
    /// the table (a field deleted since) is left out rather than failing the page; the view tools say
    /// what to fix.
    async fn read(&self, extra: Option<Value>, want: Want<'_>) -> Result<Page, StatusCode> {
        let filter = self.filter(extra.clone());
        let query = match records::record_query(
            self.schema,
            list_request(filter.as_ref(), want.sort, &want)?,
            &self.context,
        ) {
            Ok(query) => query,
            Err(_) => records::record_query(
                self.schema,
                list_request(extra.as_ref(), "", &want)?,
                &self.context,
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
        };
        let page = records::list(self.state, self.org, self.schema, &query, KeyBy::Key, &[])
            .await
            .map_err(|error| {
                let error = tenon_server::ApiError::from(error);
                if error.status().is_server_error() {
                    tracing::error!(message = error.message(), "a board failed to read");
                }
                error.status()
            })?;
        Ok(Page {
            items: page.items,
            total: page.total,
            next: page.next,
        })
    }

    /// The fields a card shows: the view's `fields` (minus hidden ones), else the first few.
    fn card_fields(&self, skip: &[Option<&str>]) -> Vec<&Field> {
        let skipped = |field: &&Field| {
            Some(field.key.as_str()) == self.title_field().map(|f| f.key.as_str())
                || skip.contains(&Some(field.key.as_str()))
        };
        match self.view.field_keys() {
            Some(keys) if self.view.config.get("fields").is_some() => keys
                .iter()
                .filter_map(|key| self.schema.resolve_field(key))
                .filter(|field| !skipped(field))
                .filter(|field| {
                    !skip.contains(&Some(field.key.as_str()))
                        && !matches!(field.kind, FieldKind::Attachment { .. })
                })
                .collect(),
            _ => self
                .schema
                .fields
                .iter()
                .filter(|field| !skipped(field))
                .filter(|field| !matches!(field.kind, FieldKind::Attachment { .. }))
                .take(DEFAULT_CARD_FIELDS)
                .collect(),
        }
    }

    fn card(&self, item: &Value, shown: &[&Field], cover: Option<&str>) -> Card {
        let fields = item.get("fields").cloned().unwrap_or(Value::Null);
        let value = |key: &str| fields.get(key).cloned().unwrap_or(Value::Null);
        let title = self
            .title_field()
            .map(|field| display(field, &value(field.key.as_str()), self.tz))
            .unwrap_or_default();
        let cover = cover.and_then(|key| image_of(&value(key)));
        Card {
            id: item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            version: item.get("version").and_then(Value::as_i64).unwrap_or(0),
            title,
            cover,
            fields: shown
                .iter()
                .map(|field| CardValue {
                    name: field.name.to_string(),
                    text: display(field, &value(field.key.as_str()), self.tz),
                })
                .filter(|value| !value.text.is_empty())
                .collect(),
            start: String::new(),
            end: String::new(),
            end_day: String::new(),
            rank: String::new(),
        }
    }
}

/// The first raster image of an attachment value (`[{"id", "type", …}]`).
fn image_of(value: &Value) -> Option<String> {
    value.as_array()?.iter().find_map(|item| {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let raster = [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "image/avif",
        ];
        raster
            .contains(&kind)
            .then(|| item.get("id").and_then(Value::as_str).map(str::to_owned))
            .flatten()
    })
}

/// A value as a card shows it: text, instants in the organization's zone, names of picked things.
pub fn display(field: &Field, value: &Value, tz: chrono_tz::Tz) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "✓".to_owned(),
        Value::Bool(false) => String::new(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => {
            let instant = matches!(
                field.field_type().as_str(),
                "datetime" | "created_time" | "modified_time"
            );
            match chrono::DateTime::parse_from_rfc3339(text) {
                Ok(at) if instant => at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
                _ => text.clone(),
            }
        }
        Value::Array(items) => items
            .iter()
            .map(|item| display(field, item, tz))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(object) => match object.get("error") {
            Some(error) => format!("#{}", error.as_str().unwrap_or("ERROR")),
            None => object
                .get("name")
                .or_else(|| object.get("id"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        },
    }
}

/// The local day of a date or date-time value.
fn day_of(value: &Value, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    let text = value.as_str()?;
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(day);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&tz).date_naive())
}

fn config_str<'a>(view: &'a View, key: &str) -> Option<&'a str> {
    view.config.get(key).and_then(Value::as_str)
}

/// Builds the board of `view` (a kanban, gallery or calendar view).
pub async fn build(
    state: &AppState,
    org: tenon_model::OrgId,
    schema: &TableSchema,
    view: &View,
    query: &BoardQuery,
) -> Result<Board, StatusCode> {
    let organization = state
        .store()
        .tenant(org)
        .organization()
        .await
        .map_err(|error| tenon_server::ApiError::from(error).status())?;
    let reader = Reader {
        state,
        org,
        schema,
        view,
        context: records::filter_context(state, &organization),
        tz: organization.time_zone.tz(),
    };
    let mut board = match view.view_type {
        ViewType::Kanban => kanban(&reader, query).await,
        ViewType::Gallery => gallery(&reader, query).await,
        _ => calendar(&reader, query).await,
    }?;
    board.settings = Some(crate::board_settings::settings(schema, view));
    Ok(board)
}

async fn kanban(reader: &Reader<'_>, query: &BoardQuery) -> Result<Board, StatusCode> {
    let mut board = Board::empty("kanban", reader.view);
    let group =
        config_str(reader.view, "group_field").and_then(|key| reader.schema.resolve_field(key));
    let Some((group, choices)) = group.and_then(|field| match &field.kind {
        FieldKind::SingleSelect { choices } => Some((field, choices)),
        _ => None,
    }) else {
        board.problem = Some("board-needs-group-field");
        return Ok(board);
    };
    board.group_field = Some(group.key.to_string());
    let cover = config_str(reader.view, "card_cover");
    // Ordered by hand: the order field first (empty places first), then the view's own sort.
    let order = reader
        .view
        .order_field()
        .and_then(|key| reader.schema.resolve_field(key))
        .and_then(|field| match field.kind {
            FieldKind::Number { precision, .. } => Some((field.key.as_str(), precision)),
            _ => None,
        });
    // A card shows its place only when the view lists the order field among its card fields.
    let listed = reader.view.config.get("fields").is_some();
    let shown = reader.card_fields(&[
        Some(group.key.as_str()),
        cover,
        order.filter(|_| !listed).map(|(key, _)| key),
    ]);
    if let Some((key, precision)) = order {
        board.order_field = Some(key.to_owned());
        board.order_precision = precision;
    }
    // An order field gone (or no longer a number) orders nothing: the view's own sort, as without one
    // (so the rest of the view, its filter, still applies).
    let sort = match order {
        Some(_) => reader.view.records_sort(),
        None => reader.view.sort().unwrap_or("").to_owned(),
    };
    let mut columns: Vec<(Option<String>, String)> = choices
        .iter()
        .map(|choice| (Some(choice.name.clone()), choice.color.clone()))
        .collect();
    columns.push((None, "gray".to_owned()));
    for (index, (choice, color)) in columns.into_iter().enumerate() {
        if query.column.is_some_and(|wanted| wanted != index) {
            continue;
        }
        let condition = match &choice {
            Some(name) => json!({"field": group.key.as_str(), "op": "eq", "value": name}),
            None => json!({"field": group.key.as_str(), "op": "is_empty"}),
        };
        let offset = if query.column.is_some() {
            query.offset.unwrap_or(0)
        } else {
            0
        };
        let Page { items, total, .. } = reader
            .read(Some(condition), Want::first(&sort, CARDS_PER_PAGE, offset))
            .await?;
        let total = total.unwrap_or(0);
        let shown_to = offset + items.len() as u64;
        board.columns.push(Column {
            index,
            choice,
            color,
            total,
            cards: items
                .iter()
                .map(|item| {
                    let mut card = reader.card(item, &shown, cover);
                    if let Some((key, _)) = order {
                        card.rank = match item.get("fields").and_then(|fields| fields.get(key)) {
                            Some(Value::String(text)) => text.clone(),
                            Some(Value::Number(number)) => number.to_string(),
                            _ => String::new(),
                        };
                    }
                    card
                })
                .collect(),
            more: (i64::try_from(shown_to).unwrap_or(i64::MAX) < total).then_some(shown_to),
        });
    }
    Ok(board)
}

async fn gallery(reader: &Reader<'_>, query: &BoardQuery) -> Result<Board, StatusCode> {
    let mut board = Board::empty("gallery", reader.view);
    let cover = config_str(reader.view, "cover_field");
    let shown = reader.card_fields(&[cover]);
    let offset = query.offset.unwrap_or(0);
    let Page { items, total, .. } = reader
        .read(
            None,
            Want::first(reader.view.sort().unwrap_or(""), CARDS_PER_PAGE, offset),
        )
        .await?;
    board.total = total.unwrap_or(0);
    let shown_to = offset + items.len() as u64;
    board.more = (i64::try_from(shown_to).unwrap_or(i64::MAX) < board.total).then_some(shown_to);
    board.cards = items
        .iter()
        .map(|item| reader.card(item, &shown, cover))
        .collect();
    Ok(board)
}

async fn calendar(reader: &Reader<'_>, query: &BoardQuery) -> Result<Board, StatusCode> {
    let mut board = Board::empty("calendar", reader.view);
    let dated = |key: Option<&str>| {
        key.and_then(|key| reader.schema.resolve_field(key))
            .filter(|field| matches!(field.field_type().as_str(), "date" | "datetime"))
    };
    let Some(start_field) = dated(config_str(reader.view, "date_field")) else {
        board.problem = Some("board-needs-date-field");
        return Ok(board);
    };
    let end_field = dated(config_str(reader.view, "end_date_field"));
    board.date_field = Some(start_field.key.to_string());
    board.end_date_field = end_field.map(|field| field.key.to_string());
    let today = reader.context.today;
    let date = query
        .date
        .as_deref()
        .and_then(|raw| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let week = query.mode.as_deref() == Some("week");
    let monday = |day: NaiveDate| {
        day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day)
    };
    let (range_first, range_last, grid_first, grid_last, previous, next) = if week {
        let first = monday(date);
        let last = first + Days::new(6);
        (
            first,
            last,
            first,
            last,
            first - Days::new(7),
            first + Days::new(7),
        )
    } else {
        let first = date.with_day(1).unwrap_or(date);
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(first);
        let last = next.pred_opt().unwrap_or(first);
        let previous = first
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(first);
        let grid_first = monday(first);
        let grid_last = monday(last) + Days::new(6);
        (first, last, grid_first, grid_last, previous, next)
    };
    board.mode = if week { "week" } else { "month" };
    board.year = date.year();
    board.month = date.month();
    board.date = date.to_string();
    board.first = grid_first.to_string();
    board.last = grid_last.to_string();
    board.previous = previous.to_string();
    board.next = next.to_string();
    board.today = today.to_string();
    board.new_date = if (range_first..=range_last).contains(&today) {
        today.to_string()
    } else {
        range_first.to_string()
    };
    board.date_kind = if start_field.field_type().as_str() == "datetime" {
        "datetime"
    } else {
        "date"
    };
    let (from, to) = (grid_first.to_string(), grid_last.to_string());
    let start_key = start_field.key.as_str();
    let within = json!({"field": start_key, "op": "between", "value": [from, to]});
    let condition = match end_field {
        // A range reaching into the page from before it counts too.
        Some(end) => json!({"or": [within, {"and": [
            {"field": start_key, "op": "lt", "value": from},
            {"field": end.key.as_str(), "op": "gte", "value": from},
        ]}]}),
        None => within,
    };
    let shown = reader.card_fields(&[Some(start_key), end_field.map(|f| f.key.as_str())]);
    // Only what an event shows is read, page after page: every event of the period counts for its day's
    // "N more", though a day shows only its first few.
    let title_key = reader.title_field().map(|field| field.key.as_str());
    let end_key = end_field.map(|field| field.key.as_str());
    let fields: Vec<&str> = [Some(start_key), end_key, title_key]
        .into_iter()
        .flatten()
        .collect();
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = reader
            .read(
                Some(condition.clone()),
                Want {
                    sort: start_key,
                    size: EVENTS_PAGE,
                    offset: 0,
                    count: false,
                    after,
                    fields: Some(fields.clone()),
                },
            )
            .await?;
        items.extend(page.items);
        after = page.next;
        if after.is_none() || items.len() >= EVENTS_MAX {
            break;
        }
    }
    let mut days: Vec<Day> = Vec::new();
    let mut day = grid_first;
    while day <= grid_last {
        days.push(Day {
            date: day.to_string(),
            number: day.day(),
            in_range: day >= range_first && day <= range_last,
            today: day == today,
            events: Vec::new(),
            more: 0,
        });
        day = day + Days::new(1);
    }
    for item in &items {
        let fields = item.get("fields").cloned().unwrap_or(Value::Null);
        let start_value = fields.get(start_key).cloned().unwrap_or(Value::Null);
        let Some(start) = day_of(&start_value, reader.tz) else {
            continue;
        };
        let end_value = end_field
            .and_then(|field| fields.get(field.key.as_str()).cloned())
            .unwrap_or(Value::Null);
        let end = day_of(&end_value, reader.tz)
            .filter(|end| *end >= start)
            .unwrap_or(start);
        let mut on = start.max(grid_first);
        while on <= end.min(grid_last) {
            let index = usize::try_from((on - grid_first).num_days()).unwrap_or(usize::MAX);
            if let Some(slot) = days.get_mut(index) {
                if slot.events.len()
                    < if week {
                        EVENTS_PER_WEEK_DAY
                    } else {
                        EVENTS_PER_DAY
                    }
                {
                    let mut card = reader.card(item, &shown, None);
                    card.start = start_value.as_str().unwrap_or("").to_owned();
                    card.end = end_value.as_str().unwrap_or("").to_owned();
                    if !card.end.is_empty() {
                        card.end_day = end.to_string();
                    }
                    slot.events.push(card);
                } else {
                    slot.more += 1;
                }
            }
            on = on + Days::new(1);
        }
    }
    let mut weeks = Vec::new();
    let mut rest = days.into_iter().peekable();
    while rest.peek().is_some() {
        weeks.push(rest.by_ref().take(7).collect());
    }
    board.weeks = weeks;
    Ok(board)
}

/// `GET /apps/{app}/tables/{table}/views/{view}/part`: the board of a view without the page around it
/// (read again after a change), or a kanban column's (`column`) or a gallery's next cards (`offset`).
pub async fn part(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((app_reference, table_reference, view_reference)): Path<(String, String, String)>,
    Query(query): Query<BoardQuery>,
) -> Response {
    #[derive(Serialize)]
    struct Context {
        lang: &'static str,
        board: Board,
        /// Only the cards (`load more`), not the whole board.
        cards_only: bool,
        can_write: bool,
        can_build: bool,
    }
    let principal = &viewer.0.principal;
    if !principal.scopes.grants(Scope::RecordsRead) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let tenant = state.store().tenant(principal.org_id);
    let schema = match tenant.table_schema(&app_reference, &table_reference).await {
        Ok(schema) => schema,
        Err(error) => return tenon_server::ApiError::from(error).status().into_response(),
    };
    let organization = match tenant.organization().await {
        Ok(organization) => organization,
        Err(error) => return tenon_server::ApiError::from(error).status().into_response(),
    };
    let lang = i18n::negotiate(&headers, Some(organization.locale));
    let view = match tenant.views(schema.table.id).await {
        Ok(views) => views.into_iter().find(|view| {
            is_board(view)
                && (view.id.to_string() == view_reference || view.key.as_str() == view_reference)
        }),
        Err(error) => return tenon_server::ApiError::from(error).status().into_response(),
    };
    let Some(view) = view else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cards_only = query.offset.is_some();
    let board = match build(&state, principal.org_id, &schema, &view, &query).await {
        Ok(board) => board,
        Err(status) => return status.into_response(),
    };
    let context = Context {
        lang: lang.tag(),
        board,
        cards_only,
        can_write: principal.scopes.grants(Scope::RecordsWrite),
        can_build: principal.scopes.grants(Scope::AppsWrite),
    };
    match templates::render("board_part.html", context) {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "a board part failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
