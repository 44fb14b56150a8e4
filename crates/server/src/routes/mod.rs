//! The routes of API v1, each module one resource. Handlers are thin: extract and authorize, convert the
//! input to model types, call one store function, convert the result back.
//!
//! Every route is registered through `utoipa_axum::routes!`, which records it in the OpenAPI document
//! at the same time, so the document lists exactly the routes the server answers.

use serde::{Deserialize, Deserializer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub mod aggregate;
pub mod app_code;
pub mod app_openapi;
pub mod approval_actions;
pub mod approval_delegations;
pub mod approvals;
pub mod apps;
pub mod attachments;
pub mod audit;
pub mod connections;
pub mod dashboard_data;
pub mod dashboards;
pub mod departments;
pub mod dingtalk;
pub mod event_stream;
pub mod events;
pub mod field_check;
pub mod flows;
pub mod form_subtables;
pub mod form_uploads;
pub mod forms;
pub mod formula_check;
pub mod health;
pub mod hooks;
pub mod installations;
pub mod ledger;
pub mod ledger_close;
pub mod ledger_definitions;
pub mod ledger_exchange;
pub mod ledger_reports;
pub mod ledger_statements;
pub mod ledger_vouchers;
pub mod me;
pub mod members;
pub mod notifications;
pub mod oauth;
pub mod organization;
pub mod permissions;
pub mod processes;
pub mod public_lookup;
pub mod public_views;
pub mod record_history;
pub mod records;
pub mod records_io;
pub mod records_shapes;
pub mod roles;
pub mod session;
pub mod share_links;
pub mod shares;
pub mod stream;
pub mod subscriptions;
pub mod table_io;
pub mod test_clock;
pub mod tokens;
pub mod views;

/// All routes of the API, with their documentation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(oauth::token))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(me::get_me))
        .routes(routes!(me::change_password))
        .routes(routes!(
            organization::get_organization,
            organization::update_organization
        ))
        .routes(routes!(members::list_members, members::create_member))
        .routes(routes!(
            members::get_member,
            members::update_member,
            members::delete_member
        ))
        .routes(routes!(
            departments::list_departments,
            departments::create_department
        ))
        .routes(routes!(
            departments::get_department,
            departments::update_department,
            departments::delete_department
        ))
        .routes(routes!(test_clock::get_clock, test_clock::set_clock))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::get_token, tokens::revoke_token))
        .routes(routes!(installations::create_client))
        .routes(routes!(
            installations::list_installations,
            installations::create_installation
        ))
        .routes(routes!(
            installations::get_installation,
            installations::update_installation,
            installations::delete_installation
        ))
        .routes(routes!(installations::rotate_secret))
        .routes(routes!(audit::list_audit))
        .routes(routes!(events::list_events))
        .routes(routes!(event_stream::stream_events))
        .routes(routes!(event_stream::get_event))
        .routes(routes!(stream::open_connection))
        .routes(routes!(stream::connect))
        .routes(routes!(
            subscriptions::list_subscriptions,
            subscriptions::create_subscription
        ))
        .routes(routes!(
            subscriptions::get_subscription,
            subscriptions::update_subscription,
            subscriptions::delete_subscription
        ))
        .routes(routes!(subscriptions::rotate_subscription_secret))
        .routes(routes!(subscriptions::list_deliveries))
        .routes(routes!(subscriptions::redeliver))
        .routes(routes!(subscriptions::ping))
        .routes(routes!(apps::list_apps, apps::create_app))
        .routes(routes!(apps::get_app, apps::update_app, apps::delete_app))
        .routes(routes!(apps::list_tables, apps::create_table))
        .routes(routes!(
            apps::get_table,
            apps::update_table,
            apps::delete_table
        ))
        .routes(routes!(apps::list_fields, apps::create_field))
        .routes(routes!(
            apps::get_field,
            apps::update_field,
            apps::delete_field
        ))
        .routes(routes!(field_check::check_field_change))
        .routes(routes!(
            records::list_records,
            records::create_records,
            records::update_records,
            records::delete_records
        ))
        .routes(routes!(
            records::get_record,
            records::update_record,
            records::delete_record
        ))
        .routes(routes!(record_history::record_history))
        .routes(routes!(shares::create_share))
        .routes(routes!(shares::list_shares))
        .routes(routes!(shares::revoke_share))
        .routes(routes!(shares::get_shared, shares::edit_shared))
        .routes(routes!(
            permissions::get_permissions,
            permissions::put_permissions,
            permissions::delete_permissions
        ))
        .routes(routes!(permissions::table_access))
        .routes(routes!(permissions::record_access))
        .routes(routes!(formula_check::check_formula))
        .routes(routes!(app_code::export_app))
        .routes(routes!(app_code::import_app))
        .routes(routes!(app_openapi::app_openapi))
        .routes(routes!(table_io::import))
        .routes(routes!(table_io::export))
        .routes(routes!(aggregate::aggregate))
        .routes(routes!(views::list_views, views::create_view))
        .routes(routes!(
            views::get_view,
            views::update_view,
            views::delete_view
        ))
        .routes(routes!(views::view_records))
        .routes(routes!(dashboards::list_dashboards))
        .routes(routes!(
            dashboards::get_dashboard,
            dashboards::put_dashboard,
            dashboards::delete_dashboard
        ))
        .routes(routes!(dashboards::get_dashboard_data))
        .routes(routes!(views::get_form, views::submit_form))
        .routes(routes!(public_views::get_public_view))
        .routes(routes!(public_lookup::lookup_record))
        .routes(routes!(attachments::download))
        .merge(
            // Files may be larger than JSON bodies; these routes alone accept up to FILE_BYTES_MAX.
            OpenApiRouter::new()
                .routes(routes!(attachments::upload))
                .routes(routes!(form_uploads::upload_file))
                .layer(axum::extract::DefaultBodyLimit::max(
                    tenon_store::FILE_BYTES_MAX,
                ))
                .layer(axum::Extension(crate::extract::BodyLimit(
                    tenon_store::FILE_BYTES_MAX,
                ))),
        )
        .routes(routes!(ledger::list_books, ledger::create_book))
        .routes(routes!(ledger::get_book, ledger::update_book))
        .routes(routes!(ledger::list_dimension_values))
        .routes(routes!(ledger::put_dimension_value))
        .routes(routes!(ledger::list_accounts, ledger::create_account))
        .routes(routes!(
            ledger_vouchers::list_vouchers,
            ledger_vouchers::create_voucher
        ))
        .routes(routes!(
            ledger_vouchers::get_voucher,
            ledger_vouchers::delete_voucher
        ))
        .routes(routes!(ledger_vouchers::review_voucher))
        .routes(routes!(ledger_vouchers::post_voucher))
        .routes(routes!(ledger_vouchers::reverse_voucher))
        .routes(routes!(ledger_vouchers::trial_balance))
        .routes(routes!(ledger_vouchers::from_record))
        .routes(routes!(ledger::close_periods))
        .routes(routes!(ledger::reopen_periods))
        .routes(routes!(
            ledger_close::get_openings,
            ledger_close::put_openings
        ))
        .routes(routes!(ledger_close::carry_forward))
        .routes(routes!(ledger_close::reopen_period))
        .routes(routes!(ledger_statements::balance_sheet))
        .routes(routes!(ledger_statements::income_statement))
        .routes(routes!(
            ledger_definitions::get_definition,
            ledger_definitions::put_definition
        ))
        .routes(routes!(ledger_definitions::definition_versions))
        .routes(routes!(ledger_reports::balances))
        .routes(routes!(ledger_reports::general_ledger))
        .routes(routes!(ledger_reports::account_detail))
        .routes(routes!(ledger_reports::receivables_aging))
        .routes(routes!(ledger_exchange::export_books))
        .merge(
            // Ledger files may be larger than JSON bodies, like attachments.
            OpenApiRouter::new()
                .routes(routes!(ledger_exchange::import_books))
                .layer(axum::extract::DefaultBodyLimit::max(
                    tenon_store::FILE_BYTES_MAX,
                ))
                .layer(axum::Extension(crate::extract::BodyLimit(
                    tenon_store::FILE_BYTES_MAX,
                ))),
        )
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(
            roles::get_role,
            roles::update_role,
            roles::delete_role
        ))
        .routes(routes!(
            processes::list_processes,
            processes::create_process
        ))
        .routes(routes!(processes::get_process))
        .routes(routes!(flows::list_flows))
        .routes(routes!(
            flows::get_flow,
            flows::update_flow,
            flows::delete_flow
        ))
        .routes(routes!(flows::list_runs, flows::start_run))
        .routes(routes!(flows::get_run))
        .routes(routes!(flows::cancel_run))
        .routes(routes!(flows::retry_step))
        .routes(routes!(flows::list_slots))
        .routes(routes!(flows::replay_run))
        .routes(routes!(flows::resolve_step))
        .routes(routes!(
            connections::list_connections,
            connections::create_connection
        ))
        .routes(routes!(
            connections::get_connection,
            connections::update_connection,
            connections::delete_connection
        ))
        .merge(
            // A hook's body is at most 1 MiB, whatever the server's limit for other routes.
            OpenApiRouter::new()
                .routes(routes!(hooks::receive))
                .layer(axum::extract::DefaultBodyLimit::max(
                    hooks::HOOK_BODY_BYTES_MAX,
                ))
                .layer(axum::Extension(crate::extract::BodyLimit(
                    hooks::HOOK_BODY_BYTES_MAX,
                ))),
        )
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(processes::put_draft))
        .routes(routes!(processes::publish_process))
        .routes(routes!(processes::list_versions))
        .routes(routes!(processes::forecast))
        .routes(routes!(approvals::start_approval))
        .routes(routes!(approvals::get_approval))
        .routes(routes!(approvals::list_tasks))
        .routes(routes!(approval_actions::approve_task))
        .routes(routes!(approval_actions::refuse_task))
        .routes(routes!(approval_actions::transfer_task))
        .routes(routes!(approval_actions::add_sign_task))
        .routes(routes!(approval_actions::return_task))
        .routes(routes!(approval_actions::withdraw_approval))
        .routes(routes!(approval_actions::terminate_approval))
        .routes(routes!(approval_actions::comment_approval))
        .routes(routes!(approval_actions::cc_approval))
        .routes(routes!(approval_actions::remind_approval))
        .routes(routes!(
            approval_delegations::list_delegations,
            approval_delegations::create_delegation
        ))
        .routes(routes!(
            approval_delegations::get_delegation,
            approval_delegations::delete_delegation
        ))
        .routes(routes!(dingtalk::oapi::dingtalk_gettoken))
        .routes(routes!(dingtalk::oapi::dingtalk_department_listsub))
        .routes(routes!(dingtalk::oapi::dingtalk_department_get))
        .routes(routes!(dingtalk::directory::dingtalk_department_create))
        .routes(routes!(dingtalk::directory::dingtalk_department_update))
        .routes(routes!(dingtalk::directory::dingtalk_department_delete))
        .routes(routes!(dingtalk::directory::dingtalk_user_create))
        .routes(routes!(dingtalk::directory::dingtalk_user_get))
        .routes(routes!(dingtalk::directory::dingtalk_user_list))
        .routes(routes!(dingtalk::directory::dingtalk_user_update))
        .routes(routes!(dingtalk::directory::dingtalk_user_delete))
        .routes(routes!(dingtalk::directory::dingtalk_user_getbymobile))
        .routes(routes!(dingtalk::messages::dingtalk_message_send))
        .routes(routes!(dingtalk::messages::dingtalk_message_progress))
        .routes(routes!(dingtalk::messages::dingtalk_message_result))
        .routes(routes!(dingtalk::oauth::dingtalk_access_token))
        .routes(routes!(dingtalk::oauth::dingtalk_corp_token))
        .routes(routes!(dingtalk::contact::dingtalk_search_users))
        .routes(routes!(dingtalk::signin::dingtalk_authorize))
        .routes(routes!(dingtalk::signin::dingtalk_user_token))
        .routes(routes!(dingtalk::signin::dingtalk_contact_user))
        .routes(routes!(dingtalk::signin::dingtalk_getuserinfo))
        .routes(routes!(dingtalk::workflow::dingtalk_form_create))
        .routes(routes!(dingtalk::workflow::dingtalk_form_schema))
        .routes(routes!(
            dingtalk::workflow::dingtalk_instance_start,
            dingtalk::workflow::dingtalk_instance_get
        ))
        .routes(routes!(
            dingtalk::workflow_actions::dingtalk_instance_execute
        ))
        .routes(routes!(
            dingtalk::workflow_actions::dingtalk_instance_terminate
        ))
        .routes(routes!(dingtalk::workflow_actions::dingtalk_task_redirect))
        .routes(routes!(
            dingtalk::workflow_actions::dingtalk_process_forecast
        ))
        .routes(routes!(dingtalk::workflow_actions::dingtalk_instance_ids))
        .routes(routes!(dingtalk::workflow_oapi::dingtalk_legacy_create))
        .routes(routes!(dingtalk::workflow_oapi::dingtalk_legacy_get))
        .routes(routes!(dingtalk::workflow_oapi::dingtalk_legacy_listids))
        .routes(routes!(dingtalk::workflow_oapi::dingtalk_legacy_terminate))
}

/// For `Option<Option<T>>` fields: absent stays `None`, `null` becomes `Some(None)`.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
