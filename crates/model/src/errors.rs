//! The error table: every error code the API answers, with its HTTP status and headers, and every code a
//! `details[]` entry can carry, with its parameters and an English template.
//!
//! These two tables are the contract behind `{"error": {"code", "message", "params", "details": [{"field",
//! "code", "params", "reason"}], "request_id"}}`. Handlers and the store name an entry ([`ErrorCode`],
//! [`DetailCode`]); none spells a code as a string. A user interface translates an error from its code and
//! `params` (the English `message`/`reason` stay for people reading raw responses and logs); the templates
//! here are the English wording, with `{param}` placeholders, that a translation starts from.
//!
//! `docs/errors.md` is rendered from these tables by [`markdown`]; a test in the server crate compares it.

/// Parameters of an error or a detail: named JSON values, the keys those the code documents, in the order
/// they were added. Small (one vector), so results carrying errors stay cheap to move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, serde_json::Value)>);

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    /// Sets `key`, replacing an earlier value.
    pub fn insert(&mut self, key: &'static str, value: serde_json::Value) {
        match self.0.iter_mut().find(|(name, _)| *name == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &serde_json::Value)> {
        self.0.iter().map(|(name, value)| (*name, value))
    }

    /// As a JSON object, for a response body.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.0
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }
}

impl std::ops::Index<&str> for Params {
    type Output = serde_json::Value;

    /// The value of `key`, or JSON null when it is absent.
    fn index(&self, key: &str) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// A header an error response always carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorHeader {
    /// `WWW-Authenticate: Bearer realm="tenon"…` (RFC 6750): how to authenticate, or which scope is missing.
    WwwAuthenticate,
    /// `Retry-After: <seconds>`: when to try again.
    RetryAfter,
    /// `Allow: GET, POST…`: the methods the route accepts.
    Allow,
}

impl ErrorHeader {
    pub fn name(self) -> &'static str {
        match self {
            ErrorHeader::WwwAuthenticate => "WWW-Authenticate",
            ErrorHeader::RetryAfter => "Retry-After",
            ErrorHeader::Allow => "Allow",
        }
    }
}

macro_rules! error_codes {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $status:literal, [$($header:ident),*], [$($param:literal),*], $template:literal;
    )*) => {
        /// Every top-level error code of the API (`error.code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable code, e.g. `validation_failed`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status the code answers with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// Headers every response with this code carries.
            pub fn headers(self) -> &'static [ErrorHeader] {
                match self { $(ErrorCode::$variant => &[$(ErrorHeader::$header),*],)* }
            }

            /// The keys of `error.params` with this code (each always present).
            pub fn params(self) -> &'static [&'static str] {
                match self { $(ErrorCode::$variant => &[$($param),*],)* }
            }

            /// The English message template, `{param}` standing for a parameter.
            pub fn template(self) -> &'static str {
                match self { $(ErrorCode::$variant => $template,)* }
            }

            /// When the API answers with this code.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!($($doc, "\n"),*),)* }
            }

            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// A query parameter or header is missing, unknown or malformed, or the request cannot be read;
    /// `details` name each parameter.
    InvalidRequest = "invalid_request", 400, [], [], "the request is invalid";
    /// The body is not JSON (a syntax error, or trailing characters).
    MalformedJson = "malformed_json", 400, [], [], "the body is not valid JSON";
    /// No credential, or one that is unknown, expired or revoked.
    Unauthenticated = "unauthenticated", 401, [WwwAuthenticate], [],
        "this route needs a valid credential";
    /// `POST /api/v1/auth/login`: the e-mail address or password is wrong.
    InvalidCredentials = "invalid_credentials", 401, [WwwAuthenticate], [],
        "wrong e-mail address or password";
    /// The credential lacks the scope the route needs; `params.scope` names it, and so does the
    /// `WWW-Authenticate` challenge.
    InsufficientScope = "insufficient_scope", 403, [WwwAuthenticate], ["scope"],
        "this needs the scope {scope}";
    /// A write authenticated by the session cookie came from another site.
    CrossSiteRequest = "cross_site_request", 403, [], [],
        "a cookie-authenticated write must come from Tenon's own pages";
    /// An approval task is assigned to another member, and the credential may not act for them.
    NotAssignee = "not_assignee", 403, [], [], "the task is assigned to someone else";
    /// The member's app roles (`/api/v1/apps/{app}/permissions`) do not grant this action on this table;
    /// `params.action` is `read`, `create`, `update`, `delete` or `export`.
    ActionForbidden = "action_forbidden", 403, [], ["action"],
        "your app role does not allow {action} on this table";
    /// A row rule of the member's app roles does not allow the read or write on this record (before the
    /// write for updates and deletes, after it for creates and updates); nothing was written.
    /// `params.record` is the record's id.
    RowForbidden = "row_forbidden", 403, [], ["record"],
        "your app role does not allow this on record {record}";
    /// The request reads, filters, sorts or groups by a field the member's app roles hide, or writes one
    /// they hide or make read-only; `params.field` is its key.
    FieldForbidden = "field_forbidden", 403, [], ["field"],
        "your app role does not allow this on the field {field}";
    /// Stream mode: the app is not installed in any organization.
    NotInstalled = "not_installed", 403, [], [], "the app is not installed in any organization";
    /// The object does not exist in this organization, or the route does not exist; `params.what` says
    /// which kind of object.
    NotFound = "not_found", 404, [], ["what"], "{what} not found";
    /// The route exists but not with this method; `Allow` lists the methods it takes.
    MethodNotAllowed = "method_not_allowed", 405, [Allow], [],
        "this route does not accept that method";
    /// The request took longer than the server allows.
    RequestTimeout = "request_timeout", 408, [], ["seconds"],
        "the request took longer than {seconds} s";
    /// The change conflicts with the data as it is (a duplicate, a stale version, a closed period…).
    Conflict = "conflict", 409, [], [], "the change conflicts with the current data";
    /// A records-API write of a field an approval instance running on the record sets (its status field).
    ApprovalRunning = "approval_running", 409, [], [],
        "an approval runs on this record; its status changes with the approval";
    /// `POST /api/v1/approval-delegations`: a delegation of the same member already covers part of the
    /// time and of the processes; `params.existing` is its id (end or delete it first).
    DelegationOverlap = "delegation_overlap", 409, [], ["existing"],
        "a delegation of this member already covers part of this time and these processes: {existing}";
    /// `POST /api/v1/auth/login`: the address and password match members of several organizations;
    /// `details` lists them.
    OrganizationRequired = "organization_required", 409, [], [],
        "several organizations match; send the organization id";
    /// An event cursor names an event the retention has deleted; start again without it.
    EventExpired = "event_expired", 410, [], ["retention_days"],
        "the event is no longer kept: events are kept {retention_days} days";
    /// A signed record link (`/api/v1/shares/{token}`, `/s/{token}`) was revoked, has expired, or its record
    /// is gone; `params.reason` is `revoked`, `expired` or `deleted`. Ask whoever sent the link for a new one.
    ShareGone = "share_gone", 410, [], ["reason"], "this link is no longer valid: it was {reason}";
    /// The body is larger than the server accepts; `params.limit` is the limit in bytes.
    PayloadTooLarge = "payload_too_large", 413, [], ["limit"],
        "the body is larger than {limit} bytes";
    /// The body is not declared as JSON (or the route's other accepted type).
    UnsupportedMediaType = "unsupported_media_type", 415, [], [],
        "send the body with Content-Type: application/json";
    /// The input is well-formed but refused; `details` lists every problem, one entry per field.
    ValidationFailed = "validation_failed", 422, [], [], "the input is invalid";
    /// `GET /connect` without a WebSocket upgrade.
    UpgradeRequired = "upgrade_required", 426, [], [], "this route speaks WebSocket only";
    /// The credential (or address, for public forms) made too many requests; retry after
    /// `params.retry_after` seconds (also `Retry-After`).
    RateLimited = "rate_limited", 429, [RetryAfter], ["retry_after"],
        "too many requests; retry after {retry_after} s";
    /// Too many failed logins for this address; retry after `params.retry_after` seconds.
    TooManyAttempts = "too_many_attempts", 429, [RetryAfter], ["retry_after"],
        "too many failed logins for this address; try again in {retry_after} s";
    /// A failure inside the server; the request id finds it in the server's log.
    Internal = "internal", 500, [], [],
        "the server failed to complete the request; the request id identifies it in the server's log";
    /// The database is not reachable (or `/readyz` is not ready); retry later.
    Unavailable = "unavailable", 503, [RetryAfter], [], "the database is not reachable; retry later";
}

/// The OAuth2 token endpoint (`POST /api/v1/oauth/token`) answers RFC 6749 §5.2 errors,
/// `{"error": "<code>", "error_description": "…"}`, because OAuth2 client libraries parse that shape, not
/// Tenon's. These are the codes it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthErrorCode {
    pub const ALL: &'static [OAuthErrorCode] = &[
        OAuthErrorCode::InvalidRequest,
        OAuthErrorCode::InvalidClient,
        OAuthErrorCode::UnauthorizedClient,
        OAuthErrorCode::UnsupportedGrantType,
        OAuthErrorCode::InvalidScope,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
        }
    }

    /// `invalid_client` is 401 (with `WWW-Authenticate`), every other code 400, as RFC 6749 says.
    pub fn status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            _ => 400,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => {
                "a parameter is missing, repeated or malformed, or the body is neither a form nor JSON"
            }
            OAuthErrorCode::InvalidClient => {
                "the client id or secret is wrong or missing (`WWW-Authenticate: Basic` when the client used Basic authentication)"
            }
            OAuthErrorCode::UnauthorizedClient => {
                "the app is installed in no organization, in several without `organization`, or not in the one named"
            }
            OAuthErrorCode::UnsupportedGrantType => "a grant type other than client_credentials",
            OAuthErrorCode::InvalidScope => {
                "a scope that is unknown or that the installation was not granted"
            }
        }
    }
}

macro_rules! detail_codes {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, [$($param:literal),*], $template:literal;
    )*) => {
        /// Every code a `details[]` entry can carry (`details[].code`): what is wrong with one field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DetailCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl DetailCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [DetailCode] = &[$(DetailCode::$variant),*];

            /// The stable code, e.g. `too_long`.
            pub fn as_str(self) -> &'static str {
                match self { $(DetailCode::$variant => $code,)* }
            }

            /// The keys of `params` with this code (each always present).
            pub fn params(self) -> &'static [&'static str] {
                match self { $(DetailCode::$variant => &[$($param),*],)* }
            }

            /// The English template of `reason`, `{param}` standing for a parameter.
            pub fn template(self) -> &'static str {
                match self { $(DetailCode::$variant => $template,)* }
            }

            /// When a detail has this code.
            pub fn description(self) -> &'static str {
                match self { $(DetailCode::$variant => concat!($($doc, "\n"),*),)* }
            }

            pub fn parse(code: &str) -> Option<DetailCode> {
                match code { $($code => Some(DetailCode::$variant),)* _ => None }
            }
        }
    };
}

detail_codes! {
    // Presence and shape.
    /// A value is required and missing (or empty).
    Required = "required", [], "is required";
    /// The key is not known here: no such field in the table, or no such property.
    UnknownField = "unknown_field", [], "is not a field here";
    /// An option or setting this object does not take; `allowed` lists those it takes.
    UnknownOption = "unknown_option", ["allowed"], "is not an option here; it takes {allowed}";
    /// A query parameter this route does not take (a typo such as `fliter`, or another product's name such
    /// as `filterByFormula`); `allowed` lists the parameters it takes. Ignoring it would answer the whole
    /// table as if it had been applied.
    UnknownParameter = "unknown_parameter", ["allowed"],
        "is not a parameter of this route; it takes {allowed}";
    /// The same thing is given twice in one request (a field by key and by name, a choice listed twice…).
    Duplicate = "duplicate", [], "is given more than once";
    /// The value is computed by Tenon or fixed, and cannot be written.
    ReadOnly = "read_only", [], "is computed by Tenon and cannot be written";
    /// The JSON type is wrong; `expected` is `string`, `number`, `integer`, `boolean`, `array` or `object`.
    WrongType = "wrong_type", ["expected"], "must be of type {expected}";
    /// The text is empty or only spaces.
    Empty = "empty", [], "must not be empty";
    // Sizes and ranges.
    /// The text is shorter than `min` characters.
    TooShort = "too_short", ["min"], "must be at least {min} characters";
    /// The text is longer than `max` characters.
    TooLong = "too_long", ["max"], "must be at most {max} characters";
    /// The list has fewer than `min` items.
    TooFew = "too_few", ["min"], "needs at least {min} items";
    /// The list (or the collection this would add to) has more than `max` items.
    TooMany = "too_many", ["max"], "takes at most {max} items";
    /// The number is below `min`.
    TooSmall = "too_small", ["min"], "must be at least {min}";
    /// The number is above `max`.
    TooLarge = "too_large", ["max"], "must be at most {max}";
    /// The number is outside `min`…`max`.
    OutOfRange = "out_of_range", ["min", "max"], "must be from {min} to {max}";
    /// The number has more than `scale` decimal places.
    TooPrecise = "too_precise", ["scale"], "has more than {scale} decimal places";
    /// Nesting deeper than `max` levels.
    TooDeep = "too_deep", ["max"], "nests deeper than {max} levels";
    // Formats.
    /// The text does not match the field's `pattern` (a regular expression).
    PatternMismatch = "pattern_mismatch", ["pattern"], "does not match the pattern {pattern}";
    /// Control characters are not allowed.
    ControlCharacters = "control_characters", [], "must not contain control characters";
    /// A single-line text contains a line break.
    LineBreak = "line_break", [], "must be a single line";
    /// The text is not a valid `format`: `date` (YYYY-MM-DD), `date_time` (RFC 3339), `duration`,
    /// `email`, `phone`, `url`, `id`, `key`, `time_zone`, `locale`, `currency`, `period` (YYYY-MM),
    /// `rate_limit`, `regex`, `cursor`, `number`, `date_pattern`, `event_type`, `scope`, `account_code`, `role`,
    /// `buckets` (ascending day limits such as `30,60,90`), `json`, `cron` (a 5- or 6-field pattern), `code` (a
    /// book's or dimension value's code: ASCII letters, digits, `.-_`), `uscc` (a 统一社会信用代码).
    InvalidFormat = "invalid_format", ["format"], "is not a valid {format}";
    /// The value is not one of `allowed`.
    NotOneOf = "not_one_of", ["allowed"], "must be one of {allowed}";
    /// With typecast: `value` names several things (`candidates`: choice names, or ids of records,
    /// members or departments); give one exactly or by id.
    Ambiguous = "ambiguous", ["value", "candidates"], "\"{value}\" matches several: {candidates}";
    /// With typecast: no `what` (record, member, department) is named `value`.
    NoMatch = "no_match", ["what", "value"], "no {what} matches \"{value}\"";
    /// A select value that is not one of the field's `choices`.
    UnknownChoice = "unknown_choice", ["value", "choices"],
        "\"{value}\" is not one of the choices {choices}";
    // References and data.
    /// The value names a `what` (member, department, record, app, table, field, view, event, account,
    /// file, client…) that does not exist in this organization.
    NotFound = "not_found", ["what"], "names a {what} that does not exist";
    /// The value is already used by another record or object, and must be unique.
    NotUnique = "not_unique", [], "must be unique; this value is already used";
    /// The object's `what` limit is reached: at most `max`.
    LimitReached = "limit_reached", ["max"], "the limit of {max} is reached";
    /// The value is reserved by Tenon.
    Reserved = "reserved", [], "is reserved";
    /// The change would make something contain itself.
    Cycle = "cycle", [], "would create a cycle";
    /// The value is valid but not allowed in this combination (a computed field made required, a link
    /// made unique…); `reason` says why.
    NotAllowed = "not_allowed", [], "is not allowed here";
    /// The value must be in the future.
    NotInFuture = "not_in_future", [], "must be in the future";
    /// The value must not come after `other`.
    AfterOther = "after_other", ["other"], "must not be after {other}";
    /// The value must not come before `other`.
    BeforeOther = "before_other", ["other"], "must not be before {other}";
    /// The file has no column `column`.
    UnknownColumn = "unknown_column", ["column"], "the file has no column \"{column}\"";
    /// The cursor names an event the retention deleted; events are kept `retention_days` days.
    Expired = "expired", ["retention_days"],
        "the event expired (events are kept {retention_days} days)";
    /// A webhook URL whose address the outbound policy refuses (private, loopback…).
    BlockedAddress = "blocked_address", [], "is an address webhooks may not go to";
    /// The value is not valid here; `reason` says why (used where no more specific code applies).
    InvalidValue = "invalid_value", [], "is not a valid value";
    /// The change conflicts with the data as it is; `reason` says how.
    Conflict = "conflict", [], "conflicts with the current data";
    /// A department still has `count` sub-departments: move or delete them first.
    HasSubDepartments = "has_sub_departments", ["count"],
        "the department has {count} sub-departments; move or delete them first";
    /// A department still has `count` members: move them to another department first.
    HasMembers = "has_members", ["count"],
        "the department has {count} members; move them to another department first";
    /// `If-Match` (or `version`) names `expected`, but the record is at version `current`.
    VersionMismatch = "version_mismatch", ["expected", "current"],
        "the record is at version {current}, not {expected}";
    /// The `Idempotency-Key` was used for another request, or that request is still being processed.
    IdempotencyKeyReused = "idempotency_key_reused", [],
        "this Idempotency-Key belongs to a different request, or to one still being processed";
    // Formulas: `start` and `end` are the character offsets (in bytes of UTF-8) of the problem in the
    // formula text.
    /// The formula does not parse.
    FormulaSyntax = "formula_syntax", ["start", "end"], "the formula does not parse here";
    /// The formula names a field the table does not have (or no longer has).
    FormulaUnknownField = "formula_unknown_field", ["start", "end"], "no field by this name";
    /// The formula calls a function Tenon does not have.
    FormulaUnknownFunction = "formula_unknown_function", ["start", "end"], "no function by this name";
    /// A function or operator gets an argument of the wrong type or number.
    FormulaType = "formula_type", ["start", "end"], "the types do not fit here";
    /// A condition (validation rule, filter) does not give TRUE or FALSE.
    FormulaNotCondition = "formula_not_condition", ["start", "end"],
        "a condition must give TRUE or FALSE";
    /// The formula is too long, too deeply nested, or a number in it too precise.
    FormulaLimit = "formula_limit", ["start", "end"], "the formula exceeds a limit here";
    /// A regular expression in the formula is invalid.
    FormulaRegex = "formula_regex", ["start", "end"], "invalid regular expression";
    /// A record breaks a validation rule of its table; `message` is the rule's own message.
    RuleBroken = "rule_broken", ["message"], "{message}";
    // Directory and credentials.
    /// A token cannot hold scopes its creator does not hold.
    ScopeNotHeld = "scope_not_held", [], "cannot hold scopes its creator does not hold";
    /// Changing this needs the `scope` the credential does not hold.
    NeedsScope = "needs_scope", ["scope"], "needs the scope {scope}";
    /// The current password is wrong.
    WrongPassword = "wrong_password", [], "is not the member's current password";
    /// Login: one of the organizations whose member matches; send its `id` as `organization`.
    Candidate = "candidate", ["id", "name"], "{id} ({name})";
    // Ledger.
    /// The voucher's debits and credits differ (decimal strings).
    Unbalanced = "unbalanced", ["debit", "credit", "difference"],
        "the voucher does not balance: debits {debit} ≠ credits {credit} (difference {difference})";
    /// Lines post to leaf accounts; `account` has sub-accounts.
    NotLeafAccount = "not_leaf_account", ["account"],
        "account {account} has sub-accounts; post to one of them";
    /// `account` requires the `dimension` (customer, supplier, department, employee, project, item).
    DimensionRequired = "dimension_required", ["account", "dimension"],
        "account {account} requires the {dimension} dimension";
    /// `account` does not keep quantities.
    NoQuantities = "no_quantities", ["account"], "account {account} does not keep quantities";
    /// A line needs a debit or a credit amount.
    NoAmount = "no_amount", [], "give a debit or a credit amount";
    /// A line is either a debit or a credit.
    BothSides = "both_sides", [], "a line is either a debit or a credit; split it into two lines";
    /// Base-currency lines have no currency, original amount or exchange rate.
    BaseCurrency = "base_currency", [], "omit the currency for base-currency lines";
    /// A `currency` line needs `original_amount` and `exchange_rate`.
    ExchangeRequired = "exchange_required", ["currency"],
        "a {currency} line needs original_amount and exchange_rate";
    /// original × rate does not give the line's base amount.
    ExchangeMismatch = "exchange_mismatch", ["original", "currency", "rate", "converted", "base"],
        "{original} {currency} × {rate} = {converted}, but the line's signed base amount is {base}";
    /// `parent` account does not exist.
    ParentMissing = "parent_missing", ["parent"],
        "the parent account {parent} does not exist; create it first";
    /// A sub-account has its parent's `kind`.
    KindMismatch = "kind_mismatch", ["kind", "parent"],
        "a sub-account has its parent's kind ({kind} for {parent})";
    /// `role` is held by another `account`.
    RoleTaken = "role_taken", ["role", "account"], "role {role} is already held by account {account}";
    /// A voucher rule's expression could not be computed from the record's fields; `reason` says why.
    ExpressionFailed = "expression_failed", [], "the voucher rule cannot be computed from the record";
    /// No account of the book has the `role` a voucher rule needs.
    RoleMissing = "role_missing", ["role"], "no account of this book has the role {role}";
    /// `date` is not in `period`.
    OutsidePeriod = "outside_period", ["date", "period"], "{date} is not in period {period}";
    /// The book separates duties: a voucher's preparer cannot review it (nor create it reviewed or posted).
    SegregationOfDuties = "segregation_of_duties", [],
        "the book separates duties: the preparer cannot also review";
    /// `period` is closed: nothing is written, posted or reversed into it.
    PeriodClosed = "period_closed", ["period"], "period {period} is closed";
    /// The voucher's `state` does not allow the action.
    InvalidState = "invalid_state", ["state"], "not possible for a {state} voucher";
    /// A book's opening balances (期初余额) do not balance: their debits and credits (decimal strings) differ;
    /// `debit_accounts` and `credit_accounts` list the accounts on each side.
    OpeningsUnbalanced = "openings_unbalanced", ["debit", "credit", "difference", "debit_accounts", "credit_accounts"],
        "the opening balances do not balance: debits {debit} ≠ credits {credit} (difference {difference})";
    /// Income and expense `accounts` still have a balance in `period`: carry profit and loss forward first
    /// (or close with `force`).
    ProfitAndLossOpen = "profit_and_loss_open", ["period", "accounts"],
        "income and expense accounts {accounts} still have a balance in {period}; carry them forward first";
    /// Only the latest closed period (`period`) can be reopened.
    NotLatestClosed = "not_latest_closed", ["period"],
        "only the latest closed period ({period}) can be reopened";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for DetailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{name}` placeholders of a template, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        found.push(&after[..close]);
        rest = &after[close + 1..];
    }
    found
}

/// Fills a template's placeholders from `params` (strings bare, lists joined with ", ", other values as
/// JSON), for people reading English.
pub fn fill(template: &str, params: &Params) -> String {
    let mut text = template.to_owned();
    for name in placeholders(template) {
        let value = match params.get(name) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
            None => continue,
        };
        text = text.replace(&format!("{{{name}}}"), &value);
    }
    text
}

/// `docs/errors.md`: both tables and the OAuth2 codes, as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Errors\n\n\
         <!-- Generated from crates/model/src/errors.rs; `UPDATE_DOCS=1 cargo test -p tenon-server --test api errors::` rewrites it. -->\n\n\
         Every failure answers one shape:\n\n\
         ```json\n\
         {\"error\": {\"code\": \"validation_failed\", \"message\": \"2 fields are invalid\", \"params\": {},\n\
         \x20          \"details\": [{\"field\": \"nights\", \"code\": \"too_large\", \"params\": {\"max\": 30},\n\
         \x20                        \"reason\": \"must be at most 30\"}],\n\
         \x20          \"request_id\": \"01HV…\"}}\n\
         ```\n\n\
         `code` and `details[].code` are stable; `params` holds the values a message needs, so a user interface\n\
         can say it in its own language (the templates below are the English wording, `{name}` standing for\n\
         `params.name`). `message` and `reason` are English text for people and may change. `details` is\n\
         empty when the error is not about particular fields; `field` is a path into the request (`email`,\n\
         `records[3].fields.nights`, `lines[0].dimensions.customer`) or a query parameter's name.\n\n\
         ## Error codes\n\n\
         | code | status | headers | params | message | when |\n\
         |---|---|---|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        let headers: Vec<&str> = code.headers().iter().map(|header| header.name()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            code.as_str(),
            code.status(),
            cell(&headers.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>()),
            cell(
                &code
                    .params()
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
            ),
            escape(code.template()),
            escape(&one_line(code.description())),
        ));
    }
    out.push_str(
        "\n## Detail codes\n\n\
         | code | params | reason (English) | when |\n\
         |---|---|---|---|\n",
    );
    for code in DetailCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            cell(
                &code
                    .params()
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
            ),
            escape(code.template()),
            escape(&one_line(code.description())),
        ));
    }
    out.push_str(
        "\n## The OAuth2 token endpoint\n\n\
         `POST /api/v1/oauth/token` does not use the shape above: it answers RFC 6749 (§5.2) errors,\n\
         `{\"error\": \"invalid_client\", \"error_description\": \"…\"}`, because OAuth2 client libraries parse\n\
         that shape.\n\n\
         | error | status | when |\n\
         |---|---|---|\n",
    );
    for code in OAuthErrorCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status(),
            escape(code.description())
        ));
    }
    out
}

fn cell(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_owned()
    } else {
        items.join(", ")
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
        }
        let mut seen = HashSet::new();
        for code in DetailCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(DetailCode::parse(code.as_str()), Some(*code));
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }

    #[test]
    fn templates_use_only_documented_params() {
        for code in ErrorCode::ALL {
            for name in placeholders(code.template()) {
                assert!(code.params().contains(&name), "{code}: {{{name}}}");
            }
            assert!(
                !code.description().trim().is_empty(),
                "{code} is undocumented"
            );
        }
        for code in DetailCode::ALL {
            for name in placeholders(code.template()) {
                assert!(code.params().contains(&name), "{code}: {{{name}}}");
            }
            assert!(
                !code.description().trim().is_empty(),
                "{code} is undocumented"
            );
        }
    }

    #[test]
    fn statuses_and_headers_agree() {
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!((400..600).contains(&status), "{code}");
            if status == 401 {
                assert!(
                    code.headers().contains(&ErrorHeader::WwwAuthenticate),
                    "{code}"
                );
            }
            if status == 429 {
                assert!(code.headers().contains(&ErrorHeader::RetryAfter), "{code}");
            }
        }
        assert!(
            ErrorCode::InsufficientScope
                .headers()
                .contains(&ErrorHeader::WwwAuthenticate)
        );
    }

    #[test]
    fn fill_replaces_placeholders() {
        let mut params = Params::new();
        params.insert("value", "缺勤".into());
        params.insert(
            "choices",
            serde_json::json!(["缺勤 Absent", "出勤 Present"]),
        );
        assert_eq!(
            fill(DetailCode::UnknownChoice.template(), &params),
            "\"缺勤\" is not one of the choices 缺勤 Absent, 出勤 Present"
        );
    }
}
