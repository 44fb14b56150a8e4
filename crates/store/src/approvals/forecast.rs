//! Forecasts: the path an instance of a process's published version would take for a record and an
//! initiator if every approver agreed, computed by the engine on a copy with the standing delegations
//! that apply now (nothing is written).

use std::collections::BTreeMap;
use std::sync::Arc;

use tenon_approvals::Instance;
use tenon_approvals::engine::{Command, Submission};
use tenon_approvals::state::RecordRef;
use tenon_model::apps::CellValue;
use tenon_model::{
    ApprovalId, DepartmentId, DetailCode, FieldId, Invalid, MemberId, Reason, RecordId,
};

use super::CommandError;
use super::instances::initiator_by_rule;
use crate::{StoreError, Tenant};

/// `POST /api/v1/processes/{code}/forecast`: a record (existing, or cells not saved) and an initiator.
#[derive(Debug, Clone)]
pub struct ForecastRequest {
    pub record: Option<RecordId>,
    pub fields: Option<BTreeMap<FieldId, CellValue>>,
    pub initiator: Option<MemberId>,
    pub department: Option<DepartmentId>,
    pub selected: BTreeMap<String, Vec<MemberId>>,
    pub by: tenon_approvals::Acting,
}

impl Tenant<'_> {
    /// The path an instance of the process's published version would take if every approver agreed.
    pub async fn forecast_approval(
        &self,
        code: &str,
        request: ForecastRequest,
    ) -> std::result::Result<Vec<tenon_approvals::forecast::ForecastNode>, CommandError> {
        let mut pooled = self.store.pools.read().await?;
        let mut conn = pooled.conn();
        let process = self
            .load_process(&mut conn, code)
            .await?
            .ok_or_else(|| StoreError::not_found("process"))?;
        if process.published_version == 0 {
            return Err(StoreError::from(Invalid::one(
                "process",
                DetailCode::NotAllowed,
                format!(
                    "process {} has no published version; publish it first",
                    process.code
                ),
            ))
            .into());
        }
        let schema = self.schema_by_id(&mut conn, process.table_id).await?;
        let compiled = self
            .compiled_version(&mut conn, process.id, process.published_version, &schema)
            .await?;
        let time_zone = self.time_zone_in(&mut conn).await?;
        let (record_id, submission) = match (request.record, request.fields) {
            (Some(id), _) => {
                let record = self
                    .load_records(&mut conn, &schema, &[id], None)
                    .await?
                    .pop()
                    .ok_or_else(|| {
                        StoreError::from(Invalid::from(
                            Reason::not_found(
                                "record",
                                format!("no record {id} in table {}", schema.table.key),
                            )
                            .at("record"),
                        ))
                    })?;
                (id, self.submission_of(&mut conn, &schema, &record).await?)
            }
            (None, cells) => (
                RecordId::new(),
                Submission {
                    values: cells.unwrap_or_default(),
                    created_by: request.by.member,
                    modified_by: request.by.member,
                },
            ),
        };
        let initiator = request
            .initiator
            .or(request.by.member)
            .or_else(|| initiator_by_rule(&compiled, &submission))
            .ok_or_else(|| {
                StoreError::from(Invalid::one(
                    "initiator",
                    DetailCode::Required,
                    "the caller acts for no member and the process's initiator rule names none on this record",
                ))
            })?;
        let directory = self.directory_snapshot(&mut conn).await?;
        let delegations = self.active_delegations(&mut conn).await?;
        let instance = Instance::new(
            ApprovalId::new(),
            process.id,
            process.code.clone(),
            process.published_version,
            RecordRef {
                app: schema.app.id,
                table: schema.table.id,
                id: record_id,
            },
            String::new(),
            self.store.now(),
        );
        let start = Command::Start {
            initiator,
            department: request.department,
            selected: request.selected,
            submission,
            by: request.by,
        };
        Ok(tenon_approvals::forecast::forecast(
            Arc::new(compiled),
            Arc::new(directory),
            delegations,
            time_zone,
            instance,
            start,
            self.store.now(),
        )?)
    }
}
