"""Static vocabulary for the dataset generator: project templates, source-tree areas,
people's names, labels and sentence templates.

Kept as plain data so the generator stays readable and so that text is varied enough for
search to be meaningful (area-specific nouns end up in titles, descriptions, stack
traces and diffs of the same area).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AreaVocab:
    """Words that belong to one area of a source tree (e.g. ``src/auth/``)."""

    stems: tuple[str, ...]  # module / file stems, without extension
    funcs: tuple[str, ...]  # function names that appear in code and stack traces
    things: tuple[str, ...]  # human phrases ("session refresh") used in prose


@dataclass(frozen=True, slots=True)
class AreaSpec:
    path: str  # directory with trailing slash, e.g. "src/auth/"
    vocab: str  # key into AREAS


@dataclass(frozen=True, slots=True)
class ProjectTemplate:
    path: str
    name: str
    language: str  # python | typescript | go
    description: str
    team: str  # team::<team> label for most items
    areas: tuple[AreaSpec, ...]


AREAS: dict[str, AreaVocab] = {
    "auth": AreaVocab(
        ("session", "tokens", "oauth", "password_reset", "permissions", "middleware", "saml",
         "mfa", "api_keys", "login"),
        ("refresh_token", "validate_session", "issue_token", "revoke_token", "check_permission",
         "verify_password", "hash_password", "load_user", "rotate_keys", "authenticate"),
        ("session refresh", "OAuth callback", "password reset email", "SSO login",
         "API key rotation", "2FA enrollment", "token expiry", "permission check"),
    ),
    "api": AreaVocab(
        ("routes", "handlers", "serializers", "pagination", "rate_limit", "errors", "webhooks",
         "versioning", "schemas", "health"),
        ("list_projects", "get_project", "paginate", "serialize_issue", "handle_webhook",
         "validate_payload", "render_error", "parse_filters", "apply_rate_limit", "health_check"),
        ("pagination headers", "webhook delivery", "rate limiter", "error responses",
         "request validation", "API versioning", "bulk endpoint", "health check"),
    ),
    "db": AreaVocab(
        ("models", "migrations", "session", "queries", "pool", "repository", "indexes", "backup",
         "fixtures", "transactions"),
        ("get_connection", "run_migration", "bulk_insert", "fetch_page", "with_transaction",
         "vacuum", "upsert_rows", "create_index", "reset_pool", "execute_query"),
        ("connection pool", "schema migration", "slow query", "deadlock", "bulk upsert",
         "index rebuild", "read replica", "transaction retry"),
    ),
    "billing": AreaVocab(
        ("invoices", "subscriptions", "stripe_client", "pricing", "taxes", "refunds", "usage",
         "coupons", "ledger", "dunning"),
        ("create_invoice", "apply_coupon", "compute_tax", "prorate", "charge_customer",
         "issue_refund", "record_usage", "sync_subscription", "close_period", "retry_payment"),
        ("invoice PDF", "proration", "VAT calculation", "refund flow", "usage metering",
         "coupon codes", "failed payment retry", "plan upgrade"),
    ),
    "notifications": AreaVocab(
        ("email", "slack", "templates", "digest", "push", "preferences", "queue", "sms",
         "outbound_webhooks", "renderer"),
        ("send_email", "render_template", "enqueue", "build_digest", "post_to_slack",
         "load_preferences", "send_push", "mark_delivered", "unsubscribe", "retry_delivery"),
        ("email digest", "Slack integration", "push notifications", "notification preferences",
         "template rendering", "unsubscribe link", "delivery queue", "SMS fallback"),
    ),
    "search": AreaVocab(
        ("indexer", "query_parser", "ranking", "tokenizer", "facets", "synonyms", "highlighter",
         "reindex", "filters", "suggest"),
        ("index_document", "parse_query", "score_results", "tokenize", "build_facets",
         "highlight", "reindex_all", "apply_filters", "suggest_terms", "expand_synonyms"),
        ("full-text search", "query parser", "result ranking", "highlighting", "search facets",
         "reindex job", "autocomplete", "synonym expansion"),
    ),
    "core": AreaVocab(
        ("config", "logging", "settings", "cache", "events", "timeutil", "feature_flags",
         "tasks", "errors", "metrics"),
        ("load_config", "get_logger", "is_enabled", "invalidate_cache", "publish_event",
         "schedule_task", "record_metric", "parse_duration", "validate_settings", "retry"),
        ("config loading", "structured logging", "feature flags", "cache invalidation",
         "background tasks", "metrics export", "event bus", "settings validation"),
    ),
    "ingest": AreaVocab(
        ("readers", "kafka_consumer", "s3_source", "csv_loader", "schema_registry", "checkpoints",
         "dedupe", "backfill"),
        ("read_batch", "consume", "load_csv", "fetch_schema", "commit_offset", "dedupe_records",
         "backfill_range", "open_stream"),
        ("Kafka consumer lag", "S3 listing", "CSV parsing", "schema registry lookups",
         "checkpointing", "duplicate events", "backfill job", "late-arriving data"),
    ),
    "transform": AreaVocab(
        ("joins", "aggregations", "windowing", "cleaning", "enrichment", "udfs", "partitioning",
         "validation"),
        ("join_orders", "aggregate_daily", "apply_window", "clean_nulls", "enrich_geo",
         "register_udf", "partition_by_day", "validate_rows"),
        ("daily aggregation", "window functions", "null handling", "geo enrichment",
         "partition pruning", "row validation", "skewed joins", "timezone conversion"),
    ),
    "export": AreaVocab(
        ("parquet_writer", "warehouse", "bigquery", "snowflake", "compaction", "manifests"),
        ("write_parquet", "load_warehouse", "merge_into", "compact_files", "write_manifest",
         "export_table"),
        ("Parquet export", "warehouse load", "MERGE statement", "file compaction",
         "export manifest", "schema drift"),
    ),
    "scheduler": AreaVocab(
        ("dag", "cron", "executor", "retries", "sensors", "alerts"),
        ("build_dag", "next_run", "execute_task", "retry_task", "wait_for_partition",
         "send_alert"),
        ("DAG scheduling", "cron parsing", "task retries", "partition sensors",
         "failure alerts", "executor slots"),
    ),
    "components": AreaVocab(
        ("Button", "Modal", "DataTable", "UserCard", "Dropdown", "Toast", "Sidebar", "DatePicker",
         "Avatar", "Tabs"),
        ("renderRow", "handleClose", "onSelect", "formatDate", "useFocusTrap", "toggleSidebar",
         "sortColumns", "showToast", "getInitials", "handleKeyDown"),
        ("data table", "modal dialog", "dropdown menu", "toast notifications", "date picker",
         "sidebar navigation", "avatar fallback", "tab focus"),
    ),
    "pages": AreaVocab(
        ("Dashboard", "Settings", "Login", "ProjectList", "IssueDetail", "Profile", "Billing",
         "NotFound", "Search", "Onboarding"),
        ("loadDashboard", "saveSettings", "submitLogin", "fetchProjects", "loadIssue",
         "updateProfile", "renderPlans", "trackPageView", "runSearch", "completeStep"),
        ("dashboard page", "settings page", "login page", "issue detail view",
         "onboarding flow", "billing page", "404 page", "search page"),
    ),
    "hooks": AreaVocab(
        ("useAuth", "useFetch", "useDebounce", "usePagination", "useLocalStorage", "useTheme",
         "useWebSocket", "usePermissions", "useForm", "useInfiniteScroll"),
        ("useAuth", "useFetch", "useDebounce", "usePagination", "useLocalStorage", "useTheme",
         "useWebSocket", "usePermissions", "useForm", "useInfiniteScroll"),
        ("auth hook", "data fetching", "debounced input", "infinite scroll", "local storage sync",
         "theme switching", "WebSocket reconnect", "form validation"),
    ),
    "webapi": AreaVocab(
        ("client", "issues", "projects", "users", "interceptors", "errors", "cache", "auth"),
        ("request", "fetchIssues", "fetchProject", "getCurrentUser", "attachToken",
         "normalizeError", "cacheResponse", "refreshSession"),
        ("API client", "request interceptors", "error normalisation", "response cache",
         "token refresh", "retry on 401", "request cancellation", "query params"),
    ),
    "store": AreaVocab(
        ("index", "authSlice", "projectsSlice", "uiSlice", "selectors", "middleware", "persist",
         "notificationsSlice"),
        ("configureStore", "setUser", "loadProjects", "toggleTheme", "selectVisibleIssues",
         "logger", "rehydrate", "pushNotification"),
        ("Redux store", "state persistence", "memoised selectors", "store middleware",
         "optimistic updates", "state hydration", "UI state", "slice reducers"),
    ),
    "styles": AreaVocab(
        ("theme", "variables", "global", "typography", "dark-mode", "layout"),
        ("spacing", "breakpoint", "font-scale", "color-mix", "grid", "elevation"),
        ("dark mode", "typography scale", "responsive layout", "color tokens",
         "focus outlines", "print styles"),
    ),
    "screens": AreaVocab(
        ("HomeScreen", "LoginScreen", "SettingsScreen", "ProfileScreen", "ScannerScreen",
         "OfflineScreen"),
        ("onRefresh", "submitCredentials", "toggleNotifications", "pickAvatar", "onScan",
         "retrySync"),
        ("home screen", "login screen", "barcode scanner", "offline mode", "pull to refresh",
         "profile photo upload"),
    ),
    "navigation": AreaVocab(
        ("RootNavigator", "TabBar", "linking", "deepLinks", "guards"),
        ("navigate", "resetStack", "parseDeepLink", "requireAuth", "renderTabBar"),
        ("deep links", "tab bar", "navigation stack", "auth guard", "back button handling"),
    ),
    "services": AreaVocab(
        ("api", "storage", "push", "analytics", "sync", "biometrics"),
        ("callApi", "saveSecure", "registerPush", "trackEvent", "syncQueue", "unlockBiometric"),
        ("secure storage", "push registration", "analytics events", "background sync",
         "biometric unlock", "offline queue"),
    ),
    "cmd": AreaVocab(
        ("main", "root", "login", "sync", "version", "completion"),
        ("Execute", "newRootCmd", "runLogin", "runSync", "printVersion", "genCompletion"),
        ("root command", "login command", "sync command", "shell completion",
         "version output", "flag parsing"),
    ),
    "config": AreaVocab(
        ("config", "loader", "env", "defaults", "validate"),
        ("Load", "ReadFile", "FromEnv", "ApplyDefaults", "Validate"),
        ("config file loading", "environment overrides", "default values", "config validation",
         "XDG paths"),
    ),
    "client": AreaVocab(
        ("client", "http", "retry", "pagination", "errors", "transport"),
        ("NewClient", "Do", "withRetry", "NextPage", "decodeError", "RoundTrip"),
        ("HTTP client", "retry backoff", "pagination", "error decoding", "TLS transport",
         "proxy support"),
    ),
    "output": AreaVocab(
        ("table", "json", "color", "spinner", "pager"),
        ("RenderTable", "PrintJSON", "Colorize", "StartSpinner", "StartPager"),
        ("table rendering", "JSON output", "colour output", "spinner", "pager integration"),
    ),
    "cliauth": AreaVocab(
        ("keyring", "token", "oauth", "device_flow"),
        ("StoreToken", "LoadToken", "ExchangeCode", "PollDeviceCode"),
        ("keyring storage", "token refresh", "OAuth device flow", "credential helper"),
    ),
    "proxy": AreaVocab(
        ("proxy", "upstream", "balancer", "headers", "websocket"),
        ("ServeHTTP", "pickUpstream", "rewriteHeaders", "hijackConn", "healthCheck"),
        ("reverse proxy", "upstream selection", "header rewriting", "WebSocket upgrade",
         "load balancing"),
    ),
    "ratelimit": AreaVocab(
        ("limiter", "bucket", "redis_store", "policy"),
        ("Allow", "refill", "incrementKey", "loadPolicy"),
        ("token bucket", "Redis-backed limiter", "rate limit policy", "burst handling"),
    ),
    "metrics": AreaVocab(
        ("metrics", "prometheus", "tracing", "histograms"),
        ("Register", "ObserveLatency", "StartSpan", "newHistogram"),
        ("Prometheus metrics", "latency histograms", "OpenTelemetry tracing", "metric labels"),
    ),
    "router": AreaVocab(
        ("router", "routes", "middleware", "cors"),
        ("NewRouter", "Match", "Chain", "handleCORS"),
        ("route matching", "middleware chain", "CORS handling", "path parameters"),
    ),
}

PROJECT_TEMPLATES: tuple[ProjectTemplate, ...] = (
    ProjectTemplate(
        "acme/platform", "Platform", "python",
        "Core backend services: authentication, API, billing and search.", "backend",
        (AreaSpec("src/auth/", "auth"), AreaSpec("src/api/", "api"), AreaSpec("src/db/", "db"),
         AreaSpec("src/billing/", "billing"), AreaSpec("src/notifications/", "notifications"),
         AreaSpec("src/search/", "search")),
    ),
    ProjectTemplate(
        "acme/tools/cli", "cli", "go",
        "The acme command-line client.", "tooling",
        (AreaSpec("cmd/acme/", "cmd"), AreaSpec("internal/config/", "config"),
         AreaSpec("internal/client/", "client"), AreaSpec("internal/output/", "output"),
         AreaSpec("internal/auth/", "cliauth")),
    ),
    ProjectTemplate(
        "acme/web-app", "Web App", "typescript",
        "The customer-facing single page application.", "frontend",
        (AreaSpec("src/components/", "components"), AreaSpec("src/pages/", "pages"),
         AreaSpec("src/hooks/", "hooks"), AreaSpec("src/api/", "webapi"),
         AreaSpec("src/store/", "store")),
    ),
    ProjectTemplate(
        "acme/data/pipeline", "Pipeline", "python",
        "Batch and streaming data pipeline feeding the warehouse.", "data",
        (AreaSpec("src/ingest/", "ingest"), AreaSpec("src/transform/", "transform"),
         AreaSpec("src/export/", "export"), AreaSpec("src/scheduler/", "scheduler"),
         AreaSpec("src/core/", "core")),
    ),
    ProjectTemplate(
        "acme/mobile-app", "Mobile App", "typescript",
        "React Native app for iOS and Android.", "mobile",
        (AreaSpec("src/screens/", "screens"), AreaSpec("src/navigation/", "navigation"),
         AreaSpec("src/services/", "services"), AreaSpec("src/components/", "components"),
         AreaSpec("src/styles/", "styles")),
    ),
    ProjectTemplate(
        "acme/services/gateway", "Gateway", "go",
        "Edge API gateway: routing, rate limiting and metrics.", "infra",
        (AreaSpec("internal/proxy/", "proxy"), AreaSpec("internal/ratelimit/", "ratelimit"),
         AreaSpec("internal/metrics/", "metrics"), AreaSpec("internal/router/", "router"),
         AreaSpec("cmd/gateway/", "cmd")),
    ),
)

EXTENSIONS = {"python": ".py", "typescript": ".ts", "go": ".go"}

ROOT_FILES = {
    "python": ("README.md", "CHANGELOG.md", "pyproject.toml", "requirements.lock", "Dockerfile",
               ".gitlab-ci.yml", "Makefile"),
    "typescript": ("README.md", "CHANGELOG.md", "package.json", "yarn.lock", "tsconfig.json",
                   ".gitlab-ci.yml", "vite.config.ts"),
    "go": ("README.md", "CHANGELOG.md", "go.mod", "go.sum", "Makefile", ".gitlab-ci.yml",
           ".goreleaser.yml"),
}

DEPENDENCY_FILES = {
    "python": ("pyproject.toml", "requirements.lock"),
    "typescript": ("package.json", "yarn.lock"),
    "go": ("go.mod", "go.sum"),
}

DEPENDENCIES = {
    "python": ("sqlalchemy", "pydantic", "httpx", "celery", "redis", "stripe", "structlog",
               "alembic", "fastapi", "uvicorn"),
    "typescript": ("react", "react-dom", "@tanstack/react-query", "axios", "vite", "zod",
                   "@reduxjs/toolkit", "date-fns", "eslint", "typescript"),
    "go": ("github.com/spf13/cobra", "github.com/spf13/viper", "golang.org/x/oauth2",
           "github.com/prometheus/client_golang", "go.opentelemetry.io/otel",
           "github.com/rs/zerolog"),
}

DOC_FILES = ("docs/index.md", "docs/getting-started.md", "docs/architecture.md",
             "docs/deployment.md", "docs/troubleshooting.md", "docs/api.md",
             "docs/adr/0001-record-architecture-decisions.md", "docs/adr/0002-use-postgres.md",
             "docs/runbooks/incident-response.md", "docs/contributing.md")

STEM_SUFFIXES = ("helpers", "types", "utils", "constants", "legacy", "v2", "service", "models",
                 "client", "cache", "errors", "config")

FIRST_NAMES = (
    "Alice", "Bilal", "Chen", "Dana", "Emeka", "Fatima", "Gustavo", "Hana", "Igor", "Jasmine",
    "Kofi", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko",
    "Umar", "Valeria", "Wei", "Ximena", "Yusuf", "Zoe", "Anders", "Beatriz", "Ciaran", "Dmitri",
    "Elif", "Farid", "Greta", "Hiroshi", "Ines", "Jonas", "Kateryna", "Luca", "Maya", "Nils",
    "Olga", "Pedro", "Rahul", "Sofia", "Tariq", "Uma", "Viktor", "Wanjiru", "Yara", "Zeynep",
)
LAST_NAMES = (
    "Nguyen", "Okafor", "Schmidt", "Garcia", "Kowalski", "Tanaka", "Haddad", "Johansson",
    "Rossi", "Silva", "Murphy", "Novak", "Patel", "Dubois", "Kim", "Andersen", "Moreau",
    "Fischer", "Yilmaz", "Costa", "Ivanova", "Mensah", "Larsen", "Bianchi", "Sato", "Hughes",
    "Ortega", "Kaur", "Weber", "Lindqvist", "Petrov", "Abebe", "Fernandes", "Hoffmann", "Zhou",
)
BOT_USERS = (
    ("renovate-bot", "Renovate Bot"),
    ("gitlab-ci-bot", "CI Bot"),
    ("project_{pid}_bot_{hex}", "Release token"),
)

TYPE_LABELS = ("bug", "feature", "enhancement", "documentation", "tech-debt", "support")
TYPE_LABEL_WEIGHTS = (40, 22, 15, 8, 10, 5)
PRIORITY_LABELS = ("priority::critical", "priority::high", "priority::medium", "priority::low")
EXTRA_LABELS = ("good first issue", "needs investigation", "regression", "security",
                "performance", "ux", "customer", "flaky-test", "breaking change")

STATUSES = (
    # (id path, name, category, color) — GitLab's system-defined statuses plus one custom.
    ("WorkItems::Statuses::SystemDefined::Status/1", "To do", "to_do", "#737278"),
    ("WorkItems::Statuses::SystemDefined::Status/2", "In progress", "in_progress", "#1f75cb"),
    ("WorkItems::Statuses::SystemDefined::Status/3", "Done", "done", "#108548"),
    ("WorkItems::Statuses::SystemDefined::Status/4", "Won't do", "canceled", "#DD2B0E"),
    ("WorkItems::Statuses::SystemDefined::Status/5", "Duplicate", "canceled", "#DD2B0E"),
    ("WorkItems::Statuses::Custom::Status/101", "In review", "in_progress", "#9e5ccf"),
)

# --- prose -----------------------------------------------------------------------------

BUG_TITLES = (
    "{Thing} fails when {condition}",
    "{Thing} returns 500 after {event}",
    "Crash in {file} on {condition}",
    "{Thing} is slow for large accounts",
    "Intermittent timeout in {thing}",
    "{Thing} broken since {version}",
    "Wrong results from {func}() when {condition}",
    "Regression: {thing} ignores {setting}",
    "{Thing} leaks connections under load",
    "Flaky test for {thing} on CI",
)
FEATURE_TITLES = (
    "Add {feature} to {thing}",
    "Support {feature} in {thing}",
    "Allow admins to configure {setting}",
    "Expose {thing} metrics",
    "{Thing}: add {feature}",
    "Make {setting} configurable per project",
)
CHORE_TITLES = (
    "Refactor {file} to remove duplication",
    "Remove deprecated {thing} code path",
    "Document {thing} behaviour",
    "Improve test coverage for {thing}",
    "Clean up {func}() error handling",
    "Split {file} into smaller modules",
)
MR_TITLES = (
    "Fix {thing} when {condition}",
    "Add {feature} to {thing}",
    "Refactor {func}() for readability",
    "Handle {condition} in {thing}",
    "Speed up {thing}",
    "Improve {thing} error messages",
    "Retry {thing} on transient errors",
    "Extract {thing} into its own module",
    "Harden {func}() against bad input",
    "Update {thing} tests",
)
CONDITIONS = (
    "the token has expired", "the cache is cold", "two requests race", "the payload is empty",
    "the user has no email", "a page has exactly 100 items", "the clock skews by a minute",
    "the database fails over", "the locale is de_DE", "Unicode appears in the name",
    "the upstream returns 429", "the feature flag is off", "running behind a proxy",
    "the config file is missing", "the request is retried",
)
EVENTS = (
    "upgrading to 17.5", "a deploy", "the nightly migration", "a password change",
    "enabling SSO", "the Redis restart", "a failed payment", "renaming a project",
)
FEATURES = (
    "bulk actions", "CSV export", "audit logging", "dark mode", "keyboard shortcuts",
    "webhook retries", "per-user rate limits", "SAML group sync", "cursor pagination",
    "an admin toggle", "structured logs", "dry-run mode", "a health endpoint",
)
SETTINGS = (
    "the session timeout", "the retry budget", "max page size", "the default locale",
    "the webhook secret", "the cache TTL", "log verbosity",
)
VERSIONS = ("v2.3.0", "v2.4.1", "v3.0.0", "17.2", "the last release", "yesterday's deploy")

SENTENCES = (
    "I can reproduce this reliably on staging with a fresh account.",
    "This started after the last deploy; the logs show the same error repeatedly.",
    "The {thing} code path does not handle {condition} at all.",
    "We should probably add a regression test for {thing} before fixing this.",
    "Customers reported this in three separate support tickets this week.",
    "Looking at {file}, {func}() swallows the original exception.",
    "The fix itself is small, but the tests around {thing} are brittle.",
    "Not sure whether this is expected behaviour or a bug in {thing}.",
    "It only happens when {condition}, which explains why CI is green.",
    "I suspect the retry logic in {func}() makes it worse under load.",
    "Workaround for now: restart the worker and clear the {thing} cache.",
    "There is a related discussion in the {thing} design doc.",
    "We measured p95 latency going from 120 ms to 2.3 s for {thing}.",
    "Can we put this behind a feature flag first?",
    "The root cause is an off-by-one in the pagination of {thing}.",
    "Moving this to the next milestone; it is not blocking the release.",
    "Security impact is low, but we should still backport the fix.",
    "Thanks for the detailed report, this makes it much easier to debug.",
)
REVIEW_COMMENTS = (
    "Could we extract this into a helper? {func}() is getting long.",
    "nit: this name is a bit misleading, maybe `{func}_safe`?",
    "What happens here when {condition}?",
    "This will issue one query per row; can we batch it?",
    "I think this needs a test for {condition}.",
    "Is this lock really needed? It is held across a network call.",
    "We already have {func}() for this, let's reuse it.",
    "Please add a short comment explaining why we retry here.",
    "This changes the public behaviour of {thing}; worth a changelog entry.",
    "Looks good, just one question about the error handling.",
    "Shouldn't this be logged at warning level?",
    "Suggestion: return early to reduce nesting.",
    "This duplicates the logic in {file}.",
    "Are we sure the timeout is in seconds and not milliseconds here?",
)
REPLIES = (
    "Good catch, fixed in the latest push.",
    "Done.",
    "I'd rather keep it as is for now and follow up in a separate MR.",
    "Agreed, I've added a test.",
    "Hmm, I think this is fine because {func}() already validates the input.",
    "Updated, thanks!",
    "You're right, that was a leftover from debugging.",
    "Let's discuss this in the weekly sync.",
)
GENERAL_MR_COMMENTS = (
    "LGTM :thumbsup:",
    "Thanks, this looks good to me. Approving.",
    "Can you rebase on the default branch? There's a conflict in {file}.",
    "Pipeline failed on an unrelated flaky test, retrying.",
    "@{user} could you take a look at the {thing} part?",
    "I tested this locally against staging and it works.",
    "Let's wait for the release freeze to end before merging.",
)
ISSUE_COMMENTS = (
    "I'm seeing the same thing on my account.",
    "@{user} do you have time to look at this this milestone?",
    "This might be related to the recent changes in {file}.",
    "Could you share the full stack trace?",
    "Confirmed on production as well.",
    "I'll pick this up.",
    "This should be fixed by the latest MR, can you check again?",
    "Closing as this hasn't reproduced in a month; reopen if you see it again.",
    "Marking as duplicate, the same problem is tracked elsewhere.",
    "Here is a minimal reproduction:",
)
