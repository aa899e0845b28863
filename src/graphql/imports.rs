//! Upsert and import jobs on the GraphQL face: `upsertCustomers`,
//! `startImportJob` (a file upload), `importJob`, `importJobs`,
//! `cancelImportJob`. Resolvers call the service's `import::upsert` and
//! `import::jobs`; the objects wrap its structs.

use async_graphql::{Context, Enum, Object, SimpleObject, Upload, ID};

use super::inputs::UpdateCustomerInput;
use super::scalars::DateTime;
use super::{caller, GqlResult};
use crate::error::Error;
use crate::service::import::batch::{self, Outcome, RowResult};
use crate::service::import::{jobs, upsert};

/// What an upsert matches stored customers by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CustomerMatchKey {
    /// Any canonical variant of the item's numbers against every number a customer answers to.
    Phone,
    /// The email, case-insensitively.
    Email,
    /// The external id, exactly.
    ExternalId,
}

impl From<CustomerMatchKey> for batch::MatchKey {
    fn from(k: CustomerMatchKey) -> Self {
        match k {
            CustomerMatchKey::Phone => batch::MatchKey::Phone,
            CustomerMatchKey::Email => batch::MatchKey::Email,
            CustomerMatchKey::ExternalId => batch::MatchKey::ExternalId,
        }
    }
}

impl From<batch::MatchKey> for CustomerMatchKey {
    fn from(k: batch::MatchKey) -> Self {
        match k {
            batch::MatchKey::Phone => CustomerMatchKey::Phone,
            batch::MatchKey::Email => CustomerMatchKey::Email,
            batch::MatchKey::ExternalId => CustomerMatchKey::ExternalId,
        }
    }
}

/// What an import job does with a row.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportMode {
    /// New customers only: a row matching a stored one is a DUPLICATE.
    Create,
    /// Stored customers only: a row matching none fails (NOT_FOUND).
    Update,
    /// Updates the customer a row matches, creates one otherwise.
    Upsert,
}

impl From<ImportMode> for batch::ImportMode {
    fn from(m: ImportMode) -> Self {
        match m {
            ImportMode::Create => batch::ImportMode::Create,
            ImportMode::Update => batch::ImportMode::Update,
            ImportMode::Upsert => batch::ImportMode::Upsert,
        }
    }
}

/// The format of an import file.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportFileFormat {
    /// A header row naming the export's columns (phoneNumber, firstName, lastName, email, status, segment, tags, notes, externalId, ...), then one customer a row; `tags` and `alternativePhones` `;`-separated.
    Csv,
    /// One customer object per line.
    Ndjson,
    /// `{"customers": [...]}`, an export, or a bare list of customers.
    Json,
}

impl From<ImportFileFormat> for jobs::ImportFormat {
    fn from(f: ImportFileFormat) -> Self {
        match f {
            ImportFileFormat::Csv => jobs::ImportFormat::Csv,
            ImportFileFormat::Ndjson => jobs::ImportFormat::Ndjson,
            ImportFileFormat::Json => jobs::ImportFormat::Json,
        }
    }
}

/// The reader of import files, which the app hands to the schema (see [`super::routes`]).
pub struct FileRows(pub jobs::ReadRows);

/// What became of an item or row.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportRowStatus {
    /// A customer was created.
    Created,
    /// The matched customer was changed.
    Updated,
    /// The matched customer already was as the row says.
    Unchanged,
    /// Imports only: the row repeats an earlier row's key, or (mode CREATE) matches a stored customer.
    Duplicate,
    /// Not applied; `errors` says why.
    Failed,
}

impl From<Outcome> for ImportRowStatus {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Created => ImportRowStatus::Created,
            Outcome::Updated => ImportRowStatus::Updated,
            Outcome::Unchanged => ImportRowStatus::Unchanged,
            Outcome::Duplicate => ImportRowStatus::Duplicate,
            Outcome::Failed => ImportRowStatus::Failed,
        }
    }
}

/// Why an item or row was not applied.
#[derive(SimpleObject)]
pub struct ImportRowError {
    /// The row's number in the file from 1 (jobs), or the item's index from 0 (upsert).
    pub row: i64,
    /// The input field at fault, or `row` for the row as a whole.
    pub field: String,
    /// INVALID, DUPLICATE, NOT_FOUND, AMBIGUOUS or CONFLICT.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// One item's result.
pub struct UpsertItemResult(RowResult);

/// One item's result.
#[Object]
impl UpsertItemResult {
    /// The item's index in the input list, from 0.
    async fn index(&self) -> i64 {
        i64::try_from(self.0.row).unwrap_or(i64::MAX)
    }

    /// CREATED, UPDATED, UNCHANGED or FAILED.
    async fn status(&self) -> ImportRowStatus {
        self.0.outcome.into()
    }

    /// The customer created, updated or matched.
    async fn id(&self) -> Option<ID> {
        self.0.id.map(|id| ID(id.to_string()))
    }

    /// The key that matched a stored customer.
    async fn matched_on(&self) -> Option<CustomerMatchKey> {
        self.0.matched_on.map(Into::into)
    }

    /// The value that matched (a canonical phone, an email, an external id).
    async fn matched_value(&self) -> Option<&str> {
        self.0.matched_value.as_deref()
    }

    /// Why the item was not applied (empty unless FAILED).
    async fn errors(&self) -> Vec<ImportRowError> {
        row_errors(&self.0)
    }
}

fn row_errors(r: &RowResult) -> Vec<ImportRowError> {
    r.errors
        .iter()
        .map(|e| ImportRowError {
            row: i64::try_from(r.row).unwrap_or(i64::MAX),
            field: e.field.clone(),
            code: e.code.to_owned(),
            message: e.message.clone(),
        })
        .collect()
}

/// What an upsert did.
pub struct UpsertResult(upsert::UpsertReport);

/// What an upsert did.
#[Object]
impl UpsertResult {
    /// Items that created a customer.
    async fn created(&self) -> i32 {
        count(self.0.created)
    }
    /// Items that changed the customer they matched.
    async fn updated(&self) -> i32 {
        count(self.0.updated)
    }
    /// Items that matched a customer already as they say.
    async fn unchanged(&self) -> i32 {
        count(self.0.unchanged)
    }
    /// Items not applied.
    async fn failed(&self) -> i32 {
        count(self.0.failed)
    }
    /// One result per item, in input order.
    async fn items(&self) -> Vec<UpsertItemResult> {
        self.0.items.iter().cloned().map(UpsertItemResult).collect()
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// An import running in the background.
pub struct ImportJob(jobs::Job);

/// An import running in the background.
#[Object]
impl ImportJob {
    /// The job's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    // Status, mode, format and keys are strings in this contract (the
    // spellings REST shows), not GraphQL enums: changing their types would
    // break clients that read them.
    /// queued, running, succeeded, failed or cancelled.
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }
    /// create, update or upsert.
    async fn mode(&self) -> &str {
        self.0.mode.as_str()
    }
    /// The keys rows are matched by.
    async fn match_on(&self) -> Vec<&str> {
        self.0.match_on.iter().map(|k| k.as_str()).collect()
    }
    /// True when the job writes nothing and only reports.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// csv, ndjson or json.
    async fn format(&self) -> &str {
        self.0.format.as_str()
    }
    /// Rows judged in committed batches: created + updated + unchanged + duplicate + failed.
    async fn rows_read(&self) -> f64 {
        self.0.rows_read as f64
    }
    /// Rows that created a customer.
    async fn created(&self) -> f64 {
        self.0.created as f64
    }
    /// Rows that changed the customer they matched.
    async fn updated(&self) -> f64 {
        self.0.updated as f64
    }
    /// Rows that matched a customer already as they say.
    async fn unchanged(&self) -> f64 {
        self.0.unchanged as f64
    }
    /// Rows repeating an earlier row's key or customer (or, mode create, matching a stored customer).
    async fn duplicate(&self) -> f64 {
        self.0.duplicate as f64
    }
    /// Rows not stored for a reason in `errors`.
    async fn failed(&self) -> f64 {
        self.0.failed as f64
    }
    /// Share of the uploaded body processed, 0 to 1.
    async fn progress(&self) -> f64 {
        self.0.progress
    }
    /// Why the job failed, when it did.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// When the job was started.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When it began to run (it may wait, queued, behind other jobs).
    async fn started_at(&self) -> Option<DateTime> {
        self.0.started_at.map(DateTime)
    }
    /// When it ended.
    async fn finished_at(&self) -> Option<DateTime> {
        self.0.finished_at.map(DateTime)
    }
    /// The rows not stored, by row number: those after row `after`, at most `first` (up to 1,000) lines.
    async fn errors(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 0, desc = "Only rows after this row number.")] after: Option<i32>,
        #[graphql(default = 100, desc = "Most lines returned, up to 1,000.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<ImportRowError>> {
        let (ctx, actor) = caller(cx)?;
        let limit = u64::try_from(first.unwrap_or(100).clamp(1, 1000)).unwrap_or(100);
        let lines = jobs::errors(ctx, actor, self.0.id, i64::from(after.unwrap_or(0)), limit)
            .await
            .gql()?;
        Ok(lines
            .into_iter()
            .map(|l| ImportRowError {
                row: l.row,
                field: l.field,
                code: l.code,
                message: l.message,
            })
            .collect())
    }
}

fn job_id(id: &ID) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(id.trim()).map_err(|_| Error::NotFound("import job"))
}

/// Reads of import jobs.
#[derive(Default)]
pub struct ImportQuery;

/// Reads of import jobs.
#[Object]
impl ImportQuery {
    /// An import job of the caller's tenant (`startImportJob` or REST `POST /api/v2/customers/imports` starts one).
    async fn import_job(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The job's id.")] id: ID,
    ) -> async_graphql::Result<ImportJob> {
        let (ctx, actor) = caller(cx)?;
        Ok(ImportJob(
            jobs::get(ctx, actor, job_id(&id).gql()?).await.gql()?,
        ))
    }

    /// The caller's tenant's import jobs, newest first (at most 100).
    async fn import_jobs(&self, cx: &Context<'_>) -> async_graphql::Result<Vec<ImportJob>> {
        let (ctx, actor) = caller(cx)?;
        Ok(jobs::list(ctx, actor)
            .await
            .gql()?
            .into_iter()
            .map(ImportJob)
            .collect())
    }
}

/// Writes of upsert and import jobs.
#[derive(Default)]
pub struct ImportMutation;

/// Writes of upsert and import jobs.
#[Object]
impl ImportMutation {
    /// Creates or updates up to 1,000 customers, each matched to a stored one by phone (any canonical variant, primary or alternative), email (case-insensitive) or externalId, in the order of `match`. An item matching two different customers fails as AMBIGUOUS; sending the same items again leaves them UNCHANGED. Needs AGENT or ADMIN.
    async fn upsert_customers(
        &self,
        cx: &Context<'_>,
        #[graphql(
            desc = "The customers: a create input, or the fields to change of the customer matched."
        )]
        input: Vec<UpdateCustomerInput>,
        #[graphql(
            name = "match",
            default_with = "Some(vec![CustomerMatchKey::Phone, CustomerMatchKey::Email, CustomerMatchKey::ExternalId])",
            desc = "The keys matched, in order of preference."
        )]
        match_on: Option<Vec<CustomerMatchKey>>,
    ) -> async_graphql::Result<UpsertResult> {
        let (ctx, actor) = caller(cx)?;
        if input.len() > upsert::MAX_UPSERT_ITEMS {
            return Err(Error::invalid(
                "input",
                format!("at most {} items per upsert", upsert::MAX_UPSERT_ITEMS),
            ))
            .gql();
        }
        let items = input
            .into_iter()
            .map(|i| {
                i.into_input().map_err(|e| match e {
                    Error::BadUserInput { fields, .. } => fields,
                    other => vec![crate::error::FieldError::new("customer", other.to_string())],
                })
            })
            .collect();
        let keys = match_on
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(UpsertResult(
            upsert::upsert(ctx, actor, items, keys).await.gql()?,
        ))
    }

    /// Starts an import job over an uploaded file, as REST `POST /api/v2/customers/imports` does: send the operation as a multipart request (the GraphQL multipart request spec, as Apollo Client's upload link does, with an `apollo-require-preflight: true` header). The file is read as the job runs, a batch of 1,000 rows per transaction; follow it with `importJob`. Needs AGENT or ADMIN.
    async fn start_import_job(
        &self,
        cx: &Context<'_>,
        #[graphql(
            desc = "The file: CSV with a header row of the export's columns, NDJSON (one customer per line), or JSON (`{\"customers\": [...]}`, an export, or a bare list)."
        )]
        file: Upload,
        #[graphql(
            desc = "The file's format; when absent, the one the file's content type names (text/csv, application/x-ndjson, application/json), else its name's extension (.csv, .ndjson or .jsonl, .json)."
        )]
        format: Option<ImportFileFormat>,
        #[graphql(
            default_with = "Some(ImportMode::Upsert)",
            desc = "What is done with each row."
        )]
        mode: Option<ImportMode>,
        #[graphql(
            name = "match",
            default_with = "Some(vec![CustomerMatchKey::Phone, CustomerMatchKey::Email, CustomerMatchKey::ExternalId])",
            desc = "The keys rows are matched to stored customers by, in order of preference."
        )]
        match_on: Option<Vec<CustomerMatchKey>>,
        #[graphql(
            default_with = "Some(false)",
            desc = "True reports exactly what the import would do and writes no customer."
        )]
        dry_run: Option<bool>,
    ) -> async_graphql::Result<ImportJob> {
        let (ctx, actor) = caller(cx)?;
        // Refused before the file is looked at, as the REST route does.
        actor.require_writer().gql()?;
        let upload = file.value(cx).map_err(Error::internal).gql()?;
        let format = match format {
            Some(format) => format.into(),
            None => jobs::format_of_file(upload.content_type.as_deref(), &upload.filename)
                .ok_or_else(|| {
                    Error::invalid(
                        "format",
                        "the file's format is unknown: give `format` (CSV, NDJSON or JSON), or \
                         upload the file as text/csv, application/x-ndjson or application/json",
                    )
                })
                .gql()?,
        };
        let size = upload
            .content
            .metadata()
            .map(|m| m.len())
            .map_err(Error::internal)
            .gql()?;
        let keys = match_on
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let spec = jobs::spec(
            mode.unwrap_or(ImportMode::Upsert).into(),
            keys,
            dry_run.unwrap_or(false),
            format,
        );
        let FileRows(read_rows) = cx.data::<FileRows>()?;
        Ok(ImportJob(
            jobs::start(ctx, actor, spec, upload.content, size, *read_rows, ())
                .await
                .gql()?,
        ))
    }

    /// Stops an import job before its next batch (batches already committed stay). Needs AGENT or ADMIN.
    async fn cancel_import_job(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The job to stop.")] id: ID,
    ) -> async_graphql::Result<ImportJob> {
        let (ctx, actor) = caller(cx)?;
        Ok(ImportJob(
            jobs::cancel(ctx, actor, job_id(&id).gql()?).await.gql()?,
        ))
    }
}
