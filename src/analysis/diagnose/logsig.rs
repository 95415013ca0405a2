//! Log-signature library: tested patterns that recognise a root cause in a container's log
//! (its previous or current log tail) and the class it implies, with the specific thing the
//! line names (dependency host:port, path, env var, flag, port, service account…). Pure: no I/O.
//!
//! Matching:
//! - every pattern is case-insensitive where wording varies and unanchored, so timestamps, log
//!   levels and logger prefixes are accepted; JSON-structured lines are matched after their
//!   string escapes (`\"`, `\n`, `\t`, `\\`, `\u00XX`) are neutralised and ANSI colour codes
//!   removed (length-preserving, so line numbers and offsets stay those of the raw log);
//! - a `RegexSet` pass over the whole text selects the signatures present; only those are run
//!   line by line, from the last line up, so each signature reports its LAST occurrence (the
//!   newest line, nearest the crash);
//! - results are ordered by [`Signature::priority`] (most diagnostic first), then by line
//!   (newest first), and bounded to [`MAX_MATCHES`].
//!
//! Priority bands (higher wins in [`best`]):
//! - 100 image-arch-mismatch (`exec format error`);
//! - 92–96 command-invalid (entrypoint or command missing or not executable, bad subcommand);
//! - 88–90 config-env-var-missing; 84–88 app-rbac-forbidden; 84–86 oom-killed (runtime OOM);
//!   84 app-port-conflict and the privileged-port bind refusal;
//! - 55–80 config-invalid-value (flags, JVM options, config parse errors, DB credentials, wrong
//!   database name, TLS-vs-plaintext mismatch; the generic "invalid configuration" is 55);
//! - 76 app-volume-permission-denied; 70 app-missing-file;
//! - 50–63 app-dependency-unreachable (a named host beats a bare "connection refused"; x509 58);
//! - 45 specific app errors (missing module/library, too many open files, disk full);
//! - 12–30 generic app errors (panics, uncaught exceptions, native crashes), 5 a bare
//!   error-level line.
//!
//! Decisions:
//! - x509 / TLS verification errors → `app-dependency-unreachable`: the app cannot establish a
//!   trusted connection to the named dependency (detail = that host when the line names it);
//!   the fix (trust the CA, renew the certificate, use the name in the certificate) is about
//!   that connection. A TLS client talking to a plaintext port (`server gave HTTP response to
//!   HTTPS client`, `wrong version number`, `SSL is not enabled on the server`) is a
//!   `config-invalid-value` (the scheme/sslmode configured is wrong).
//! - database authentication failures (`password authentication failed for user`, `Access
//!   denied for user`, `role "x" does not exist`, `NOAUTH`, `WRONGPASS`, `ACCESS_REFUSED`…) →
//!   `config-invalid-value`: the dependency is reachable, the credentials configured (Secret or
//!   env) are wrong; detail = the user when named. `database "x" does not exist` likewise.
//! - binding a privileged port without the right (`listen tcp :80: bind: permission denied`)
//!   → `security-context-rejected`: the non-root security context forbids it; the fix is a
//!   port ≥ 1024 or `NET_BIND_SERVICE`.
//! - `Could not resolve placeholder` (Spring), `KeyError: 'UPPER_CASE'` (Python `os.environ`,
//!   Ruby `ENV.fetch`) and the official DB images' "password is not specified" →
//!   `config-env-var-missing`. The `KeyError` rule is a heuristic: an upper-case key.
//! - a missing library module (`No module named`, `Cannot find module 'express'`,
//!   `ClassNotFoundException`, missing shared library) → `app-error` (the image is incomplete);
//!   a missing entry script or main class (`python: can't open file`, `Cannot find module
//!   '/app/index.js'`, `Could not find or load main class`, `Unable to access jarfile`,
//!   `npm ERR! missing script`) → `command-invalid`.
//! - `Too many open files` and `no space left on device` → `app-error` with a specific detail.
//! - a data directory that is not empty at init (`lost+found` on a fresh volume) →
//!   `config-invalid-value` (point the data dir at a subdirectory).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet, RegexSetBuilder};
use serde::Serialize;

use super::class::Class;
use crate::analysis::redact::{ascii_pattern, redact};

/// At most this many matches are returned by [`scan`].
pub const MAX_MATCHES: usize = 20;
/// Longest line (in characters) kept in a [`LogMatch`]; longer lines are cut around the match.
pub const MAX_LINE_CHARS: usize = 300;
/// Longest detail (in characters).
const MAX_DETAIL_CHARS: usize = 160;
/// How many following lines a signature's `detail_next` pattern may look at.
const NEXT_LINES: usize = 4;

/// How a signature turns its captures into [`LogMatch::detail`]. Captures are named `d`, `d2`,
/// `d3`… (the first one that matched is used), ports `p`, `p2`…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// No detail.
    None,
    /// The captured text, trimmed of quotes and punctuation.
    Text,
    /// A file-system path.
    Path,
    /// A dependency: `host:port` or `host` (URLs reduced to their host and port, credentials
    /// dropped; Java's `name/10.0.0.5:5432` reduced to `name:5432`; a `p` capture appended).
    Host,
    /// A port number (from `:8080`, `0.0.0.0:80`, `:::3000`, `8080`).
    Port,
    /// A fixed label, followed by the capture in parentheses when there is one.
    Label(&'static str),
    /// A Kubernetes RBAC denial: user, verb, resource, API group and scope.
    Rbac,
}

/// One log signature: a pattern and the root-cause class it implies.
#[derive(Debug)]
pub struct Signature {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// The class the signature implies.
    pub class: Class,
    /// What the line means, in one sentence.
    pub description: &'static str,
    /// The regular expression (multi-line mode is added when compiled).
    pub pattern: &'static str,
    /// Specificity: higher is more diagnostic; [`best`] takes the highest.
    pub priority: u8,
    /// How the detail is extracted.
    pub detail: Detail,
    /// When the matching line names no detail, a pattern (capture `d`) tried on the next few
    /// lines (e.g. the variable listed under "You need to specify one of the following").
    pub detail_next: Option<&'static str>,
    /// Real-looking log lines this signature must match (shared by docs and tests).
    pub examples: &'static [&'static str],
}

/// One signature found in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogMatch {
    /// The [`Signature::id`].
    pub signature: &'static str,
    /// The class it implies.
    pub class: Class,
    /// The matching log line, redacted, trimmed, at most [`MAX_LINE_CHARS`] characters (cut
    /// around the match, with `…` where text was cut).
    pub line: String,
    /// 1-based line number in the scanned text.
    pub line_no: usize,
    /// The specific thing the line names, when the pattern captures one.
    pub detail: Option<String>,
}

const BASE: Signature = Signature {
    id: "",
    class: Class::AppError,
    description: "",
    pattern: "",
    priority: 0,
    detail: Detail::None,
    detail_next: None,
    examples: &[],
};

/// An environment-variable name: quoted (any case) or bare upper-case (`$X`, `${X}` accepted).
macro_rules! var {
    ($q:literal, $u:literal) => {
        concat!(
            r#"(?:["'`](?P<"#,
            $q,
            r#">[A-Za-z_][A-Za-z0-9_.]*)["'`]|\$?\{?(?-i:(?P<"#,
            $u,
            r">[A-Z_][A-Z0-9_]*))\}?)"
        )
    };
}

use Class::*;

static SIGNATURES: &[Signature] = &[
    // ---------------------------------------------------------------- image / command
    Signature {
        id: "exec-format-error",
        class: ImageArchMismatch,
        priority: 100,
        detail: Detail::Path,
        description: "The entrypoint binary was built for another CPU architecture than the node's (e.g. an amd64-only image on an arm64 node).",
        pattern: r#"(?i)(?:(?:^|[^/\w])exec\s+(?P<d>[^\s:"]+):\s*exec format error|\[Errno 8\] Exec format error(?::\s*'(?P<d2>[^']+)')?|(?P<d3>[^\s:]+):\s*cannot execute binary file|exec user process caused:?\s*"?exec format error|exec format error)"#,
        examples: &[
            "exec /usr/local/bin/server: exec format error",
            "standard_init_linux.go:228: exec user process caused: exec format error",
            r#"standard_init_linux.go:211: exec user process caused "exec format error""#,
            "OSError: [Errno 8] Exec format error: '/app/run'",
        ],
        ..BASE
    },
    Signature {
        id: "exec-not-found-in-path",
        class: CommandInvalid,
        priority: 96,
        detail: Detail::Text,
        description: "The container command is not an executable on the image's $PATH (typo, or the tool is not installed in the image).",
        pattern: r#"(?i)(?:exec:\s*"(?P<d>[^"]+)":\s*)?executable file not found in \$?PATH"#,
        examples: &[
            r#"failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "wge": executable file not found in $PATH: unknown"#,
            r#"starting container process caused: exec: \"gunicorn\": executable file not found in $PATH"#,
        ],
        ..BASE
    },
    Signature {
        id: "entrypoint-not-found",
        class: CommandInvalid,
        priority: 95,
        detail: Detail::Path,
        description: "The entrypoint file does not exist in the image (wrong path, or a script with CRLF line endings / a missing interpreter).",
        pattern: r#"(?i)(?:exec:\s*"(?P<d>[^"]+)":\s*(?:stat\s+[^\s:]+:\s*)?(?:no such file or directory|not found)|(?:^|[^/\w])exec\s+(?P<d2>[^\s:"]+):\s*no such file or directory|exec user process caused:?\s*"?no such file or directory|\bexec\s+(?P<d3>\S+)\s+failed:\s*(?:No such file or directory|not found))"#,
        examples: &[
            "exec /docker-entrypoint.sh: no such file or directory",
            r#"OCI runtime create failed: exec: "/app/start": stat /app/start: no such file or directory: unknown"#,
            "standard_init_linux.go:228: exec user process caused: no such file or directory",
            "[FATAL tini (7)] exec /app/start.sh failed: No such file or directory",
        ],
        ..BASE
    },
    Signature {
        id: "entrypoint-not-executable",
        class: CommandInvalid,
        priority: 95,
        detail: Detail::Path,
        description: "The entrypoint exists but is not executable (missing +x bit, or a directory).",
        pattern: r#"(?i)(?:(?:^|[^/\w])exec\s+(?P<d>[^\s:"]+):\s*permission denied|exec:\s*"(?P<d2>[^"]+)":\s*permission denied|exec user process caused:?\s*"?permission denied|\bexec\s+(?P<d4>\S+)\s+failed:\s*Permission denied|(?:^|[\s\[])(?:/\S*/)?(?:sh|bash|ash|dash|zsh)(?::\s*(?:line\s+)?\d+)?:\s*(?P<d3>[^\s:]+):\s*Permission denied)"#,
        examples: &[
            "exec /entrypoint.sh: permission denied",
            "/bin/sh: 1: ./start.sh: Permission denied",
            r#"exec: "/app/run.sh": permission denied: unknown"#,
        ],
        ..BASE
    },
    Signature {
        id: "shell-command-not-found",
        class: CommandInvalid,
        priority: 96,
        detail: Detail::Text,
        description: "The shell could not find the command it was asked to run (typo in command/args, or the tool is missing from the image).",
        pattern: r"(?i)(?:(?:^|[\s\[])(?:/\S*/)?(?:sh|bash|ash|dash|zsh)(?::\s*(?:line\s+)?\d+)?:\s*(?:exec:\s*)?(?P<d>[^\s:]+):\s*(?:command\s+)?not found|(?P<d2>[^\s:]+):\s*command not found|:\s*exec:\s*(?:line\s+\d+:\s*)?(?P<d3>[^\s:]+):\s*not found)",
        examples: &[
            "/bin/sh: 1: gunicorn: not found",
            "bash: line 1: flask: command not found",
            "/docker-entrypoint.sh: line 12: gosu: command not found",
            "sh: 1: exec: /app/run: not found",
            "/docker-entrypoint.sh: exec: line 47: /usr/local/bin/app: not found",
        ],
        ..BASE
    },
    Signature {
        id: "interpreter-not-found",
        class: CommandInvalid,
        priority: 96,
        detail: Detail::Text,
        description: "The script's shebang interpreter is missing (`/usr/bin/env: 'python'`), often `'bash\\r'` from CRLF line endings.",
        pattern: r#"(?i)(?:^|[\s:])(?:/usr/bin/|/bin/)?env:\s*['‘"]?(?P<d>[^'’"\s:]+)\s*['’"]?:\s*No such file or directory"#,
        examples: &[
            "/usr/bin/env: 'python': No such file or directory",
            "/usr/bin/env: 'bash\r': No such file or directory",
            "env: ‘node’: No such file or directory",
        ],
        ..BASE
    },
    Signature {
        id: "python-entrypoint-missing",
        class: CommandInvalid,
        priority: 95,
        detail: Detail::Path,
        description: "Python was started on a script or module that is not in the image (wrong path or working directory).",
        pattern: r#"(?i)python[0-9.]*:\s*(?:can't open file\s*['"](?P<d>[^'"]+)['"]|No module named\s+(?P<d2>[\w.]+))"#,
        examples: &[
            "python: can't open file '/app/main.py': [Errno 2] No such file or directory",
            "/usr/local/bin/python3: can't open file '/srv/app.py': [Errno 2] No such file or directory",
            "/usr/local/bin/python: No module named myapp",
        ],
        ..BASE
    },
    Signature {
        id: "node-entrypoint-missing",
        class: CommandInvalid,
        priority: 94,
        detail: Detail::Path,
        description: "Node.js was started on an entry script that is not in the image.",
        pattern: r"(?i)Cannot find module\s+'(?P<d>/[^']+)'\s*$",
        examples: &[
            "Error: Cannot find module '/app/index.js'",
            "  Error: Cannot find module '/usr/src/app/dist/main.js'",
        ],
        ..BASE
    },
    Signature {
        id: "npm-missing-script",
        class: CommandInvalid,
        priority: 94,
        detail: Detail::Text,
        description: "`npm run`/`npm start` names a script that package.json does not define.",
        pattern: r#"(?i)npm (?:ERR!|error)\s+missing script:\s*"?(?P<d>[\w:.-]+)"?"#,
        examples: &["npm ERR! missing script: start", r#"npm error Missing script: "serve""#],
        ..BASE
    },
    Signature {
        id: "java-entrypoint-missing",
        class: CommandInvalid,
        priority: 94,
        detail: Detail::Text,
        description: "The JVM cannot find the jar or main class it was told to run.",
        pattern: r"(?i)(?:Unable to access jarfile\s+(?P<d>\S+)|Could not find or load main class\s+(?P<d2>[\w.$]+))",
        examples: &[
            "Error: Unable to access jarfile /app/app.jar",
            "Error: Could not find or load main class com.example.Main",
        ],
        ..BASE
    },
    Signature {
        id: "unknown-subcommand",
        class: CommandInvalid,
        priority: 92,
        detail: Detail::Text,
        description: "The container args name a subcommand the program does not have.",
        pattern: r#"(?i)(?:unknown command\s+"(?P<d>[^"]+)"\s+for\s+"[^"]+"|No such command:?\s+['"`](?P<d2>[^'"`]+)['"`])"#,
        examples: &[
            r#"Error: unknown command "serve" for "myapp""#,
            "Error: No such command 'runserver'.",
            "error: no such command: `serve`",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- environment
    Signature {
        id: "env-var-missing",
        class: ConfigEnvVarMissing,
        priority: 90,
        detail: Detail::Text,
        description: "The app requires an environment variable that is not set (add it to env/envFrom).",
        pattern: concat!(
            r"(?i)(?:\benv(?:ironment)?(?:[\s_-]*var(?:iable)?)?s?\s*[:=]?\s*",
            var!("d", "d2"),
            r"\s+(?:is\s+|was\s+|has\s+)?(?:not\s+(?:been\s+)?(?:set|defined|provided|found|present|specified)|unset|undefined|missing|empty|required|must\s+be\s+(?:set|provided|defined|specified)|should\s+not\s+be\s+empty|cannot\s+be\s+empty)",
            r"|",
            var!("d3", "d4"),
            r"\s+env(?:ironment)?(?:\s*var(?:iable)?)?\s+(?:is\s+|was\s+|has\s+)?(?:not\s+(?:been\s+)?(?:set|defined|provided|found|specified)|unset|undefined|missing|empty|required|must\s+be\s+(?:set|provided|defined|specified))",
            r"|(?:missing|required|undefined|unset)\s+(?:(?:required|mandatory)\s+)?env(?:ironment)?[\s_-]*var(?:iable)?s?\b(?:\s*(?:named\s+)?[:=]?\s*",
            var!("d5", "d6"),
            r")?",
            r"|required\s+key\s+(?P<d7>[A-Za-z_][A-Za-z0-9_]*)\s+missing\s+value",
            r"|set\s+(?:the\s+)?",
            var!("d8", "d9"),
            r"\s+env(?:ironment)?(?:\s*var(?:iable)?)?",
            r"|(?-i:(?P<d10>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+))\s+(?:must\s+be\s+(?:set|provided|defined)|is\s+(?:not\s+set|unset|required|missing|empty|undefined)|not\s+set|cannot\s+be\s+empty|must\s+not\s+be\s+empty)",
            r"|Invalid\s+environment\s+variables?:?\s*\{?\s*(?-i:(?P<d11>[A-Z_][A-Z0-9_]*))?",
            r"|Field required \[type=missing",
            r"|env(?:ironment)?[\s_-]*var(?:iable)?\s+(?:not\s+(?:found|set|defined)|missing|undefined)\s*[:=]\s*",
            var!("d12", "d13"),
            r"|(?:Config|Env(?:ironment)?)\s+validation\s+error:?\s*",
            var!("d14", "d15"),
            r"\s+is\s+required",
            r"|\bvalue:\s*NotPresent\b)",
        ),
        detail_next: Some(r"^\s*-?\s*(?P<d>[A-Z][A-Z0-9]*_[A-Z0-9_]+)\b"),
        examples: &[
            r#"panic: environment variable "DATABASE_URL" is not set"#,
            "Error: Missing required environment variable: REDIS_URL",
            r#"env: required environment variable "API_KEY" is not set"#,
            "ERROR ==> The MONGODB_ROOT_PASSWORD environment variable is empty or not set.",
            "envconfig: required key DB_HOST missing value",
            "DATABASE_URL must be set",
            "django.core.exceptions.ImproperlyConfigured: Set the SECRET_KEY environment variable",
            "❌ Invalid environment variables: { DATABASE_URL: [ 'Required' ] }",
            "env var PORT not set",
            "Error: Environment variable not found: DATABASE_URL.",
            r#"ERROR [ExceptionHandler] Config validation error: "JWT_SECRET" is required"#,
            "called `Result::unwrap()` on an `Err` value: NotPresent",
        ],
    },
    Signature {
        id: "environ-key-error",
        class: ConfigEnvVarMissing,
        priority: 90,
        detail: Detail::Text,
        description: "Python `os.environ['X']` / Ruby `ENV.fetch('X')` raised for a missing upper-case variable.",
        pattern: r#"(?:^|\s)KeyError:\s*(?:key not found:\s*)?['"](?P<d>[A-Z][A-Z0-9_]+)\s*['"]"#,
        examples: &["KeyError: 'DATABASE_URL'", r#"KeyError: key not found: "SECRET_KEY_BASE""#],
        ..BASE
    },
    Signature {
        id: "spring-placeholder-unresolved",
        class: ConfigEnvVarMissing,
        priority: 90,
        detail: Detail::Text,
        description: "A Spring `${...}` placeholder has no value (the env var or property that should supply it is missing).",
        pattern: r"(?i)Could not resolve placeholder\s+'(?P<d>[^']+)'",
        examples: &[
            r#"java.lang.IllegalArgumentException: Could not resolve placeholder 'DB_URL' in value "${DB_URL}""#,
            r#"Could not resolve placeholder 'app.api.key' in string value "${app.api.key}""#,
        ],
        ..BASE
    },
    Signature {
        id: "spring-datasource-url-missing",
        class: ConfigEnvVarMissing,
        priority: 88,
        detail: Detail::Label("spring.datasource.url"),
        description: "Spring Boot found no datasource URL (SPRING_DATASOURCE_URL / spring.datasource.url not provided).",
        pattern: r"(?i)Failed to configure a DataSource:\s*'url' attribute is not specified",
        examples: &[
            "Failed to configure a DataSource: 'url' attribute is not specified and no embedded datasource could be configured.",
        ],
        ..BASE
    },
    Signature {
        id: "db-image-password-missing",
        class: ConfigEnvVarMissing,
        priority: 90,
        detail: Detail::Text,
        description: "An official database image refuses to initialise without its password variable (POSTGRES_PASSWORD, MYSQL_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD…).",
        pattern: r"(?i)(?:Database is uninitialized and (?:superuser )?password (?:option )?is not specified|You (?:must|need to) specify (?:one of\s+)?(?:the following as an environment variable:?\s*)?(?-i:(?P<d>[A-Z][A-Z0-9_]+))?)",
        detail_next: Some(r"(?:You must specify\s+|^\s*-\s*|specify one of\s+)(?P<d>[A-Z][A-Z0-9_]+)"),
        examples: &[
            "Error: Database is uninitialized and superuser password is not specified.",
            "       You must specify POSTGRES_PASSWORD to a non-empty value for the",
            "2024-05-01 10:00:00+00:00 [ERROR] [Entrypoint]: Database is uninitialized and password option is not specified",
            "You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD",
        ],
    },
    Signature {
        id: "framework-secret-missing",
        class: ConfigEnvVarMissing,
        priority: 88,
        detail: Detail::Text,
        description: "A web framework's mandatory secret is not configured (Laravel APP_KEY, Rails SECRET_KEY_BASE, Django SECRET_KEY).",
        pattern: r"(?i)(?:No application encryption key has been specified|Missing\s+`?(?P<d>secret_key_base)`?\s+for\s+'\w+'\s+environment|The\s+(?P<d2>SECRET_KEY)\s+setting must not be empty)",
        examples: &[
            "RuntimeException: No application encryption key has been specified.",
            "Missing `secret_key_base` for 'production' environment, set this string with `bin/rails credentials:edit`",
            "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- authorization
    Signature {
        id: "k8s-rbac-forbidden",
        class: AppRbacForbidden,
        priority: 88,
        detail: Detail::Rbac,
        description: "The pod's service account lacks an RBAC permission on the Kubernetes API (add a Role/ClusterRole and binding).",
        pattern: r#"(?i)(?:forbidden:\s*User\s+"(?P<user>[^"]+)"\s+cannot\s+(?P<verb>[a-z]+)\s+(?:(?:resource|path)\s+)?(?:"(?P<res>[^"]+)"|(?P<res2>[a-z0-9.-]+(?:/[a-z]+)?))(?:\s+in\s+API\s+group\s+"(?P<group>[^"]*)")?(?:\s+in\s+the\s+namespace\s+"(?P<ns>[^"]+)"|\s+at\s+the\s+(?P<cluster>cluster\s+scope))?|Forbidden!\s*Configured service account doesn't have access)"#,
        examples: &[
            r#"pods is forbidden: User "system:serviceaccount:shop:checkout" cannot list resource "pods" in API group "" in the namespace "shop""#,
            r#"E0101 12:00:00.000000 1 reflector.go:138] failed to list *v1.ConfigMap: configmaps is forbidden: User "system:serviceaccount:monitoring:agent" cannot list resource "configmaps" in API group "" at the cluster scope"#,
            r#"pods "web-0" is forbidden: User "system:serviceaccount:default:default" cannot get pods in the namespace "default""#,
            "Failure executing: GET at: https://10.96.0.1/api/v1/namespaces/ci/pods. Message: Forbidden!Configured service account doesn't have access. Service account may have been revoked.",
        ],
        ..BASE
    },
    Signature {
        id: "k8s-api-unauthorized",
        class: AppRbacForbidden,
        priority: 80,
        detail: Detail::Text,
        description: "The Kubernetes API rejects the pod's credentials (service-account token not mounted, expired or from a deleted account).",
        pattern: r"(?i)(?:failed to (?:list|watch|get)\s+\*?(?P<d>[\w./]+):\s*Unauthorized|the server has asked for the client to provide credentials)",
        examples: &[
            "W0101 00:00:00.000000       1 reflector.go:324] failed to list *v1.Secret: Unauthorized",
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)",
        ],
        ..BASE
    },
    Signature {
        id: "k8s-secret-not-found",
        class: ConfigSecretMissing,
        priority: 82,
        detail: Detail::Text,
        description: "The app (or a kubectl/helm step) reads a Secret that does not exist in the namespace.",
        pattern: r#"(?i)\bsecrets?\s+"(?P<d>[^"]+)"\s+not found"#,
        examples: &[
            r#"Error: secret "db-credentials" not found"#,
            r#"Error from server (NotFound): secrets "tls-cert" not found"#,
        ],
        ..BASE
    },
    Signature {
        id: "k8s-key-not-found",
        class: ConfigKeyMissing,
        priority: 84,
        detail: Detail::Text,
        description: "A key referenced in a Secret or ConfigMap does not exist in it.",
        pattern: r"(?i)couldn't find key\s+(?P<d>\S+)\s+in\s+(?:Secret|ConfigMap)\s+\S+",
        examples: &["Error: couldn't find key DB_PASSWORD in Secret default/db"],
        ..BASE
    },
    Signature {
        id: "k8s-configmap-not-found",
        class: ConfigConfigmapMissing,
        priority: 82,
        detail: Detail::Text,
        description: "The app (or a kubectl/helm step) reads a ConfigMap that does not exist in the namespace.",
        pattern: r#"(?i)\bconfigmaps?\s+"(?P<d>[^"]+)"\s+not found"#,
        examples: &[
            r#"Error from server (NotFound): configmaps "app-config" not found"#,
            r#"failed to load settings: configmap "feature-flags" not found"#,
        ],
        ..BASE
    },
    Signature {
        id: "cloud-iam-denied",
        class: AppRbacForbidden,
        priority: 84,
        detail: Detail::Text,
        description: "The pod's cloud identity (IRSA, Workload Identity, managed identity) is not allowed the API action.",
        pattern: r"(?i)(?:is not authorized to perform:?\s*(?P<d>[\w:*-]+)|does not have\s+(?P<d2>[\w.]+)\s+access to|Permission\s+'(?P<d3>[\w.]+)'\s+denied on resource|does not have authorization to perform action\s+'(?P<d4>[^']+)')",
        examples: &[
            r#"An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::123456789012:assumed-role/app/abc is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::bucket/key""#,
            "googleapi: Error 403: app@proj.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object., forbidden",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- memory
    Signature {
        id: "java-out-of-memory",
        class: OomKilled,
        priority: 86,
        detail: Detail::Label("JVM"),
        description: "The JVM ran out of heap, metaspace or native threads (raise the limit or size the heap with -Xmx / MaxRAMPercentage).",
        pattern: r"(?:OutOfMemoryError(?::\s*(?P<d>[A-Za-z][A-Za-z ]*[A-Za-z]))?|There is insufficient memory for the Java Runtime Environment to continue)",
        examples: &[
            r#"Exception in thread "main" java.lang.OutOfMemoryError: Java heap space"#,
            "Terminating due to java.lang.OutOfMemoryError: Metaspace",
            "java.lang.OutOfMemoryError: GC overhead limit exceeded",
            "# There is insufficient memory for the Java Runtime Environment to continue.",
        ],
        ..BASE
    },
    Signature {
        id: "node-heap-out-of-memory",
        class: OomKilled,
        priority: 86,
        detail: Detail::Label("Node.js V8 heap"),
        description: "Node.js exhausted its V8 heap (raise the limit and --max-old-space-size together).",
        pattern: r"(?i)(?:JavaScript heap out of memory|FATAL ERROR:\s*(?:Reached heap limit|Ineffective mark-compacts near heap limit|CALL_AND_RETRY_LAST|MarkCompactCollector)|Allocation failed - process out of memory)",
        examples: &[
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory",
        ],
        ..BASE
    },
    Signature {
        id: "python-memory-error",
        class: OomKilled,
        priority: 86,
        detail: Detail::Label("Python"),
        description: "Python could not allocate memory (MemoryError).",
        pattern: r"(?:(?:^|[\s:(])(?:numpy\.core\._exceptions\._ArrayMemoryError|MemoryError)(?::|\s*$)|Unable to allocate\s+[\d.]+\s*[KMGTP]i?B for an array)",
        examples: &[
            "MemoryError",
            "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64",
        ],
        ..BASE
    },
    Signature {
        id: "go-runtime-out-of-memory",
        class: OomKilled,
        priority: 86,
        detail: Detail::Label("Go runtime"),
        description: "The Go runtime could not allocate memory.",
        pattern: r"(?:fatal error: runtime: out of memory|runtime: out of memory: (?P<d>cannot allocate \d+-byte block))",
        examples: &[
            "fatal error: runtime: out of memory",
            "runtime: out of memory: cannot allocate 4194304-byte block (3925868544 in use)",
        ],
        ..BASE
    },
    Signature {
        id: "cannot-allocate-memory",
        class: OomKilled,
        priority: 84,
        detail: Detail::Label("ENOMEM"),
        description: "A system call failed with ENOMEM (memory limit reached).",
        pattern: r"(?i)(?:cannot allocate memory|\[Errno 12\]|\bENOMEM\b)",
        examples: &[
            "fork/exec /usr/bin/git: cannot allocate memory",
            "OSError: [Errno 12] Cannot allocate memory",
        ],
        ..BASE
    },
    Signature {
        id: "native-out-of-memory",
        class: OomKilled,
        priority: 86,
        detail: Detail::Label("allocation failure"),
        description: "A native runtime could not allocate memory (C++ bad_alloc, Rust, .NET, Ruby, PHP memory_limit).",
        pattern: r"(?P<d>std::bad_alloc|memory allocation of \d+ bytes failed|System\.OutOfMemoryException|NoMemoryError|Allowed memory size of \d+ bytes exhausted)",
        examples: &[
            "terminate called after throwing an instance of 'std::bad_alloc'",
            "memory allocation of 1073741824 bytes failed",
            "PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes)",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- ports
    Signature {
        id: "address-in-use",
        class: AppPortConflict,
        priority: 84,
        detail: Detail::Port,
        description: "The port the app binds is already taken (two containers of the pod, or two servers in one process, on the same port).",
        pattern: r"(?i)(?:listen\s+(?:tcp|udp)[46]?\s+(?P<d>\S*?):\s*bind:\s*address already in use|EADDRINUSE:?\s*(?:address already in use\s*)?(?P<d2>[\[\]\w.:]*:\d+)?|bind\(\)\s+to\s+(?P<d3>\S+)\s+failed\s+\(98:\s*Address already in use\)|error while attempting to bind on address\s+\('[^']*',\s*(?P<d4>\d+)\):\s*address already in use|Port\s+(?P<d5>\d+)\s+(?:was|is)\s+already in use|\(98\)Address already in use:.*?could not bind to address\s+(?P<d6>\S+)|Failed to bind to address\s+(?P<d7>\S+?):?\s+address already in use|address already in use|Only one usage of each socket address)",
        examples: &[
            "listen tcp :8080: bind: address already in use",
            "Error: listen EADDRINUSE: address already in use :::3000",
            "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
            "Web server failed to start. Port 8080 was already in use.",
            "ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use",
            "java.net.BindException: Address already in use",
        ],
        ..BASE
    },
    Signature {
        id: "privileged-port-denied",
        class: SecurityContextRejected,
        priority: 84,
        detail: Detail::Port,
        description: "A non-root container may not bind a port below 1024 (listen on ≥ 1024 or add the NET_BIND_SERVICE capability).",
        pattern: r"(?i)(?:listen\s+(?:tcp|udp)[46]?\s+(?P<d>\S*?):\s*bind:\s*permission denied|listen\s+EACCES:?\s*(?:permission denied\s*)?(?P<d2>[\[\]\w.:]*:\d+)|bind\(\)\s+to\s+(?P<d3>\S+)\s+failed\s+\(13:\s*Permission denied\)|error while attempting to bind on address\s+\('[^']*',\s*(?P<d4>\d+)\):\s*permission denied|\(13\)Permission denied:.*?could not bind to address\s+(?P<d5>\S+))",
        examples: &[
            "listen tcp :80: bind: permission denied",
            "Error: listen EACCES: permission denied 0.0.0.0:80",
            "nginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)",
            "(13)Permission denied: AH00072: make_sock: could not bind to address [::]:80",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- file-system permissions
    Signature {
        id: "path-permission-denied",
        class: AppVolumePermissionDenied,
        priority: 76,
        detail: Detail::Path,
        description: "The app may not read or write a path (volume owned by another uid: set fsGroup/runAsUser or fix ownership).",
        pattern: r#"(?i)(?:(?:open|mkdir|mkdirall|stat|lstat|remove|rename|chmod|chown|create|openat|unlinkat|symlink|write|read|lchown)\s+(?P<d>/[^\s:]*):\s*permission denied|\[Errno 13\]\s*Permission denied:\s*['"](?P<d2>[^'"]+)['"]|EACCES:?\s*permission denied,?\s*\w+\s+['"](?P<d3>[^'"]+)['"]|(?:can't|cannot|could not|unable to)\s+(?:create|open|write|mkdir|make|touch|remove|access|change permissions of|chmod|lock)\s*(?:to\s+)?(?:the\s+)?(?:directory|regular file|file|dir|lock file|log file)?\s*['‘"]?(?P<d4>/[^\s'’":]+)['’"]?:?\s*\(?(?:\d+:\s*)?(?:Permission denied|Operation not permitted|EACCES)|(?:open|mkdir|opendir|chown|chmod|rename|unlink)\(\)\s+"(?P<d5>[^"]+)"\s+failed\s+\(13:\s*Permission denied\)|java\.io\.FileNotFoundException:\s*(?P<d6>\S+)\s+\(Permission denied\)|java\.nio\.file\.AccessDeniedException:\s*(?P<d7>\S+)|chown:?\s*(?:changing ownership of\s*)?['‘"]?(?P<d8>/[^\s'’":]+)['’"]?:\s*(?:Operation not permitted|Permission denied)|(?P<d9>/[\w.@%+=-]+(?:/[\w.@%+=-]+)*)['"]?:\s*Permission denied|['"]?(?P<d10>/[^\s'"]+)['"]?\s+is not writable|in server root dir\s+(?P<d11>/[^)\s]+)\)[^\n]*Permission denied)"#,
        examples: &[
            "open /data/app.db: permission denied",
            "PermissionError: [Errno 13] Permission denied: '/var/lib/app/cache'",
            "Error: EACCES: permission denied, mkdir '/app/node_modules/.cache'",
            "mkdir: cannot create directory '/bitnami/mongodb/data': Permission denied",
            r#"nginx: [emerg] open() "/var/run/nginx.pid" failed (13: Permission denied)"#,
            "java.nio.file.AccessDeniedException: /opt/data/index.lock",
            "GF_PATHS_DATA='/var/lib/grafana' is not writable.",
            r#"initdb: error: could not change permissions of directory "/var/lib/postgresql/data": Operation not permitted"#,
        ],
        ..BASE
    },
    Signature {
        id: "read-only-filesystem",
        class: AppVolumePermissionDenied,
        priority: 76,
        detail: Detail::Path,
        description: "The app writes to a read-only file system (readOnlyRootFilesystem, a read-only ConfigMap/Secret mount): mount a writable emptyDir there.",
        pattern: r#"(?i)(?:(?:open|mkdir|mkdirall|remove|rename|chmod|chown|create|openat|unlinkat|symlink|write)\s+(?P<d>/[^\s:]*):\s*read-only file system|\[Errno 30\]\s*Read-only file system:\s*['"](?P<d2>[^'"]+)['"]|EROFS:?\s*read-only file system,?\s*\w+\s+['"](?P<d3>[^'"]+)['"]|(?P<d4>/[\w.@%+=-]+(?:/[\w.@%+=-]+)*)['"]?:?\s*\(?(?:30:\s*)?Read-only file system\)?|read-only directory:?\s*(?P<d5>/\S+)|read-only file system)"#,
        examples: &[
            "open /etc/nginx/conf.d/default.conf: read-only file system",
            "OSError: [Errno 30] Read-only file system: '/app/cache'",
            "java.nio.file.FileSystemException: /tmp/x.lock: Read-only file system",
            "IllegalOperation: Attempted to create a lock file on a read-only directory: /data/db",
        ],
        ..BASE
    },
    Signature {
        id: "data-dir-ownership",
        class: AppVolumePermissionDenied,
        priority: 76,
        detail: Detail::Path,
        description: "PostgreSQL refuses a data directory owned by another uid or with open permissions (set fsGroup/runAsUser).",
        pattern: r#"(?i)data directory\s+"(?P<d>[^"]+)"\s+has\s+(?:wrong ownership|invalid permissions|group or world access)"#,
        examples: &[
            r#"FATAL:  data directory "/var/lib/postgresql/data" has wrong ownership"#,
            r#"FATAL:  data directory "/var/lib/postgresql/data/pgdata" has invalid permissions"#,
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- configuration
    Signature {
        id: "go-flag-undefined",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "The container args pass a flag the Go program does not define.",
        pattern: r"flag provided but not defined:\s*(?P<d>-{1,2}[\w.-]+)",
        examples: &[
            "flag provided but not defined: -config.file",
            "flag provided but not defined: --metrics-port",
        ],
        ..BASE
    },
    Signature {
        id: "unknown-flag",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "The container args pass an option the program does not know (cobra, argparse, clap, click, commander, JVM).",
        pattern: r#"(?i)(?:unknown shorthand flag:\s*'[^']*'\s+in\s+(?P<d>-[\w.-]+)|unknown flag:?\s*['"]?(?P<d2>-{0,2}[\w.-]+)|unrecognized arguments?:\s*(?P<d3>\S+)|unexpected argument\s+'(?P<d4>[^']+)'\s+found|Found argument\s+'(?P<d5>[^']+)'\s+which wasn't expected|Unrecognized option:\s*(?P<d6>\S+)|No such option:\s*(?P<d7>\S+)|unknown options?:?\s*['"]?(?P<d8>-{1,2}[\w.-]+))"#,
        examples: &[
            "Error: unknown flag: --listen-address",
            "main.py: error: unrecognized arguments: --workers=4",
            "error: unexpected argument '--verbose' found",
            "Unrecognized option: --add-opens",
            "Error: unknown shorthand flag: 'x' in -xvf",
        ],
        ..BASE
    },
    Signature {
        id: "invalid-flag-value",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "A command-line option has an invalid or missing value.",
        pattern: r#"(?i)(?:invalid value\s+"[^"]*"\s+for flag\s+(?P<d>-{1,2}[\w.-]+)|invalid argument\s+"[^"]*"\s+for\s+"(?P<d2>[^"]+)"\s+flag|argument\s+(?P<d3>-{1,2}[\w.-]+(?:/-{1,2}[\w.-]+)?):\s*invalid|the following arguments are required:\s*(?P<d4>[^\s,]+)|Invalid value for\s+['"](?P<d5>[^'"]+)['"]|Missing (?:option|argument)\s+['"](?P<d6>[^'"]+)['"])"#,
        examples: &[
            r#"invalid value "abc" for flag -port: parse error"#,
            r#"Error: invalid argument "5x" for "--replicas" flag: strconv.ParseInt: parsing "5x": invalid syntax"#,
            "app.py: error: argument --port: invalid int value: 'http'",
            "Error: Invalid value for '--log-level': 'verbose' is not one of 'debug', 'info'.",
        ],
        ..BASE
    },
    Signature {
        id: "jvm-option-invalid",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "The JVM rejects an option in JAVA_OPTS/args (removed or mistyped flag, bad heap size).",
        pattern: r"(?:Unrecognized VM option\s+'(?P<d>[^']+)'|Improperly specified VM option\s+'(?P<d2>[^']+)'|Invalid (?:maximum|initial|minimum) heap size:\s*(?P<d3>\S+)|Error: Could not create the Java Virtual Machine)",
        examples: &[
            "Unrecognized VM option 'UseCGroupMemoryLimitForHeap'",
            "Invalid maximum heap size: -Xmx4gb",
            "Error: Could not create the Java Virtual Machine.",
        ],
        ..BASE
    },
    Signature {
        id: "spring-bind-failure",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "Spring Boot could not bind a configuration property (wrong type or value).",
        pattern: r"(?i)(?:Failed to bind properties under\s+'(?P<d>[^']+)'|Binding to target\s+\S+\s+failed)",
        detail_next: Some(r"Property:\s*(?P<d>[\w.\[\]-]+)"),
        examples: &[
            "Failed to bind properties under 'server.port' to java.lang.Integer:",
            "Binding to target org.springframework.boot.autoconfigure.web.ServerProperties@1a2b3c failed:",
        ],
    },
    Signature {
        id: "config-yaml-error",
        class: ConfigInvalidValue,
        priority: 72,
        detail: Detail::Text,
        description: "A YAML configuration file does not parse (indentation, tabs, unquoted special characters).",
        pattern: r"(?:\byaml:\s*(?:(?P<d>line \d+(?::\d+)?):|unmarshal errors)|error converting YAML to JSON|yaml\.(?:scanner|parser|constructor|composer|reader)\.\w+Error|org\.yaml\.snakeyaml\.\S*Exception|YAMLException|(?i:while (?:parsing|scanning) a (?:block|flow) (?:mapping|sequence|collection|scalar))|did not find expected key|mapping values are not allowed (?:in this context|here)|found character that cannot start any token)",
        detail_next: Some(r"(?P<d>line \d+):"),
        examples: &[
            "error: yaml: line 3: mapping values are not allowed in this context",
            "yaml.scanner.ScannerError: mapping values are not allowed here",
            "failed to load config: error converting YAML to JSON: yaml: line 10: did not find expected key",
        ],
    },
    Signature {
        id: "config-json-error",
        class: ConfigInvalidValue,
        priority: 58,
        detail: Detail::Text,
        description: "A JSON document (configuration, usually) does not parse or has a wrong type.",
        pattern: r"(?:json: cannot unmarshal \S+ into Go (?:struct field|value of type)\s+(?P<d>[\w.\[\]]+)|json\.decoder\.JSONDecodeError|SyntaxError: (?:Unexpected token .{1,20} in JSON at position \d+|.{0,60}is not valid JSON)|invalid character '.{1,4}' (?:looking for beginning of (?:object key string|value)|after (?:object key|top-level value|object key:value pair|array element))|com\.fasterxml\.jackson\.\S*(?:JsonParseException|MismatchedInputException))",
        examples: &[
            "json: cannot unmarshal string into Go struct field Config.port of type int",
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
            "SyntaxError: Unexpected token } in JSON at position 42",
        ],
        ..BASE
    },
    Signature {
        id: "config-toml-error",
        class: ConfigInvalidValue,
        priority: 72,
        detail: Detail::Text,
        description: "A TOML configuration file does not parse.",
        pattern: r"(?:\btoml:\s*(?:(?P<d>line \d+)|[^\n]*?line \d+)|TOML parse error at (?P<d2>line \d+)|tomllib\.TOMLDecodeError|toml\.decoder\.TomlDecodeError)",
        examples: &[
            r#"toml: line 3 (last key "server.port"): expected value but found "abc" instead"#,
            "TOML parse error at line 1, column 5",
            "tomllib.TOMLDecodeError: Expected '=' after a key in a key/value pair (at line 2, column 6)",
        ],
        ..BASE
    },
    Signature {
        id: "config-unknown-field",
        class: ConfigInvalidValue,
        priority: 73,
        detail: Detail::Text,
        description: "The configuration has a key the program does not know (typo, or a key of another version).",
        pattern: r#"(?:unknown field\s+[`"'](?P<d>[^`"']+)[`"']|field\s+(?P<d2>\S+)\s+not found in type\s+\S+|Unrecognized field\s+"(?P<d3>[^"]+)")"#,
        examples: &[
            "Error: unknown field `listen_addr`, expected one of `listen`, `port` at line 3 column 1",
            "  line 4: field logLevl not found in type config.Config",
            r#"com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException: Unrecognized field "timeoutMs" (class com.example.Config)"#,
        ],
        ..BASE
    },
    Signature {
        id: "invalid-config",
        class: ConfigInvalidValue,
        priority: 55,
        detail: Detail::Text,
        description: "The app reports its configuration as invalid or unreadable (generic wording).",
        pattern: r#"(?i)(?:invalid configuration|configuration is invalid|config(?:uration)? validation (?:failed|error)|invalid config(?:uration)?(?: file)?\s*[:\-]|(?:error|failed|unable|could not)\s+(?:to\s+)?(?:parse|parsing|validate|validating|load|loading|read|reading)\s+(?:the\s+)?config(?:uration)?(?:\s+file)?|validation errors? for (?:Settings|\w*Config)\b)(?:[^\n]*?\b(?:key|field|option|parameter|property|setting)\s+['"`]?(?P<d>[\w.-]+))?"#,
        examples: &[
            "level=fatal msg=\"invalid configuration: field scrape_interval must be positive\"",
            "Error: failed to load config file",
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
        ],
        ..BASE
    },
    Signature {
        id: "db-auth-failed",
        class: ConfigInvalidValue,
        priority: 78,
        detail: Detail::Text,
        description: "The database or broker rejects the configured credentials (wrong user/password in the Secret or env).",
        pattern: r#"(?i)(?:password authentication failed for user\s+"(?P<d>[^"]+)"|Access denied for user\s+'(?P<d2>[^']*)'@|Login failed for user\s+'(?P<d3>[^']*)'|role\s+"(?P<d4>[^"]+)"\s+does not exist|no pg_hba\.conf entry for host\s+"[^"]+",\s*user\s+"(?P<d5>[^"]+)"|(?:Mongo\w*|OperationFailure|SCRAM-SHA-\d+|AuthenticationFailed)[^\n]*?Authentication failed|NOAUTH Authentication required|WRONGPASS invalid username-password pair|ERR invalid password|AUTH <password> called without any password configured|ACCESS_REFUSED\s*-\s*Login was refused|SaslAuthenticationException|authentication failed for user\s+['"]?(?P<d6>[^'"\s]+))"#,
        examples: &[
            r#"FATAL:  password authentication failed for user "app""#,
            "SQLSTATE[HY000] [1045] Access denied for user 'root'@'10.244.1.7' (using password: YES)",
            "MongoServerError: Authentication failed.",
            "redis.exceptions.AuthenticationError: NOAUTH Authentication required.",
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
        ],
        ..BASE
    },
    Signature {
        id: "db-database-missing",
        class: ConfigInvalidValue,
        priority: 76,
        detail: Detail::Text,
        description: "The configured database name does not exist on the server.",
        pattern: r#"(?i)(?:database\s+"(?P<d>[^"]+)"\s+does not exist|Unknown database\s+'(?P<d2>[^']+)'|Cannot open database\s+"(?P<d3>[^"]+)")"#,
        examples: &[
            r#"FATAL:  database "orders" does not exist"#,
            "SQLSTATE[HY000] [1049] Unknown database 'shop'",
        ],
        ..BASE
    },
    Signature {
        id: "tls-protocol-mismatch",
        class: ConfigInvalidValue,
        priority: 70,
        detail: Detail::Host,
        description: "TLS is used against a plaintext port or the reverse (wrong scheme, port or sslmode configured).",
        pattern: r#"(?i)(?:(?:Get|Post|Put|Head|Delete|Patch)\s+"(?P<d>[a-z]+://[^"]+)":\s*)?(?:http: server gave HTTP response to HTTPS client|tls: first record does not look like a TLS handshake|wrong version number|WRONG_VERSION_NUMBER|SSL is not enabled on the server|server does not support SSL)"#,
        examples: &[
            r#"Get "https://registry:5000/v2/": http: server gave HTTP response to HTTPS client"#,
            "pq: SSL is not enabled on the server",
            "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1129)",
        ],
        ..BASE
    },
    Signature {
        id: "es-bootstrap-check",
        class: ConfigInvalidValue,
        priority: 80,
        detail: Detail::Text,
        description: "Elasticsearch bootstrap checks failed (vm.max_map_count too low, discovery not configured, file descriptors).",
        pattern: r"(?i)(?:max virtual memory areas\s+(?P<d>vm\.max_map_count)|max file descriptors\s+\[\d+\]\s+for elasticsearch process is too low|the default discovery settings are unsuitable for production use|bootstrap checks? failed)",
        examples: &[
            "bootstrap check failure [1] of [1]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]",
            "ERROR: [1] bootstrap checks failed. You must address the points described in the following [1] lines before starting Elasticsearch.",
        ],
        ..BASE
    },
    Signature {
        id: "number-parse-error",
        class: ConfigInvalidValue,
        priority: 60,
        detail: Detail::Text,
        description: "A configured value (usually an env var or flag) is not a valid number or duration.",
        pattern: r#"(?:strconv\.(?:Parse\w+|Atoi):\s*parsing\s+"(?P<d>[^"]*)":\s*(?:invalid syntax|value out of range)|time: (?:invalid|unknown unit \S+ in) duration\s+"?(?P<d2>[^"\s]*)"?|invalid literal for int\(\) with base \d+:\s*'(?P<d3>[^']*)'|NumberFormatException: For input string:\s*"(?P<d4>[^"]*)"|could not convert string to float:\s*'(?P<d5>[^']*)')"#,
        examples: &[
            r#"strconv.Atoi: parsing "8080/tcp": invalid syntax"#,
            "ValueError: invalid literal for int() with base 10: 'tcp://10.0.0.12:6379'",
            r#"java.lang.NumberFormatException: For input string: "tcp://10.96.0.12:8080""#,
            r#"time: invalid duration "30""#,
        ],
        ..BASE
    },
    Signature {
        id: "nginx-config-error",
        class: ConfigInvalidValue,
        priority: 72,
        detail: Detail::Text,
        description: "nginx rejects its configuration (unknown or misplaced directive, bad argument).",
        pattern: r#"\[emerg\][^\n]*?(?:unknown directive\s+"(?P<d>[^"]+)"|"(?P<d2>[^"]+)"\s+directive is (?:not allowed here|duplicate)|invalid number of arguments in\s+"(?P<d3>[^"]+)"\s+directive|directive\s+"(?P<d4>[^"]+)"\s+is not terminated|unexpected\s+"[^"]*"\s+in\s+(?P<d5>\S+))"#,
        examples: &[
            r#"nginx: [emerg] unknown directive "proxy_passs" in /etc/nginx/conf.d/default.conf:12"#,
            r#"nginx: [emerg] "proxy_pass" directive is not allowed here in /etc/nginx/conf.d/default.conf:5"#,
        ],
        ..BASE
    },
    Signature {
        id: "config-value-invalid",
        class: ConfigInvalidValue,
        priority: 74,
        detail: Detail::Text,
        description: "A named configuration setting has an invalid or missing value (Kafka/Java ConfigException, PostgreSQL parameters).",
        pattern: r#"(?i)(?:(?:ConfigException:\s*)?(?:Invalid value\s+\S+\s+for configuration\s+(?P<d>[\w.-]+)|Missing required configuration\s+"(?P<d2>[^"]+)")|invalid value for (?:parameter|setting|option|key)\s+"?(?P<d3>[\w.-]+)"?|unrecognized configuration parameter\s+"(?P<d4>[^"]+)"|ConfigException:)"#,
        examples: &[
            "org.apache.kafka.common.config.ConfigException: Invalid value 9092a for configuration port: Not a number of type INT",
            r#"ConfigException: Missing required configuration "bootstrap.servers" which has no default value."#,
            r#"FATAL:  invalid value for parameter "max_connections": "many""#,
        ],
        ..BASE
    },
    Signature {
        id: "data-dir-not-empty",
        class: ConfigInvalidValue,
        priority: 74,
        detail: Detail::Path,
        description: "A database refuses to initialise a non-empty data directory (often `lost+found` at a volume root): point the data dir at a subdirectory.",
        pattern: r#"(?i)(?:initdb:\s*(?:error:\s*)?directory\s+"(?P<d>[^"]+)"\s+exists but is not empty|--initialize specified but the data directory has files in it|Found directory\s+(?P<d2>[^\s,]+),\s*'lost\+found' is not in the form of topic-partition)"#,
        examples: &[
            r#"initdb: error: directory "/var/lib/postgresql/data" exists but is not empty"#,
            "[ERROR] [MY-010457] [Server] --initialize specified but the data directory has files in it. Aborting.",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- missing files
    Signature {
        id: "file-not-found",
        class: AppMissingFile,
        priority: 70,
        detail: Detail::Path,
        description: "The app cannot find a file it needs (config file, certificate, mounted key not projected, wrong subPath).",
        pattern: r#"(?i)(?:(?:open|stat|lstat|readlink|read|readdir|chdir|load|loading)\s+(?P<d>\.{0,2}/[^\s:]*|[\w.-]+\.(?:ya?ml|json|toml|conf|cfg|ini|properties|env|pem|crt|key|xml|txt|db|sqlite)):\s*no such file or directory|\[Errno 2\]\s*No such file or directory:\s*['"](?P<d2>[^'"]+)['"]|ENOENT:?\s*no such file or directory,?\s*\w+\s+['"](?P<d3>[^'"]+)['"]|java\.io\.FileNotFoundException:\s*(?P<d4>\S+)\s+\((?:No such file or directory|The system cannot find the (?:file|path) specified)\)|NoSuchFileException:\s*(?P<d5>\S+)|class path resource\s+\[(?P<d6>[^\]]+)\]\s+cannot be opened because it does not exist|Could not find (?:file|a part of the path)\s+'(?P<d7>[^']+)'|open\(\)\s+"(?P<d8>[^"]+)"\s+failed\s+\(2:\s*No such file or directory\)|No such file or directory @ rb_sysopen - (?P<d9>\S+)|(?:^|\s)(?:cat|cp|ls|source|cd|chmod|chown|mv|tail|head|sed|grep)\s*:\s*(?:can't open\s*)?['‘"]?(?P<d10>[^\s'’":]+)['’"]?:\s*No such file or directory|(?P<d11>/[\w.@%+=-]+(?:/[\w.@%+=-]+)+)['"]?:\s*No such file or directory|NonExistentPath:\s*Data directory\s+(?P<d12>\S+)\s+not found|spawn\s+(?P<d13>\S+)\s+ENOENT|cannot load (?:certificate|certificate key)\s+"(?P<d15>[^"]+)"[^\n]*?No such file|(?:config(?:uration)? file|file|path)\s+['"]?(?P<d14>/[^\s'"]+)['"]?\s+(?:does not exist|not found))"#,
        examples: &[
            "open /etc/app/config.yaml: no such file or directory",
            "FileNotFoundError: [Errno 2] No such file or directory: '/etc/app/config.yaml'",
            "Error: ENOENT: no such file or directory, open '/app/config/production.json'",
            "java.io.FileNotFoundException: /config/application.yml (No such file or directory)",
            r#"nginx: [emerg] open() "/etc/nginx/conf.d/site.conf" failed (2: No such file or directory)"#,
            "cat: /run/secrets/token: No such file or directory",
            "exception in initAndListen: NonExistentPath: Data directory /data/db not found., terminating",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- dependencies
    Signature {
        id: "go-dial-error",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A Go client cannot connect to a dependency (refused: nothing listening or no ready endpoints; timeout: network policy, firewall or wrong address).",
        pattern: r#"(?i)dial\s+(?:tcp|udp|unix)[46]?\s+(?P<d>[^\s"]+?):\s*(?:connect:\s*)?(?:connection refused|i/o timeout|connection timed out|no route to host|network is unreachable|no such file or directory|connection reset by peer|operation timed out|host is unreachable|(?:operation was )?canceled|context deadline exceeded)"#,
        examples: &[
            "dial tcp 10.0.0.5:5432: connect: connection refused",
            r#"failed to list *v1.Pod: Get "https://10.96.0.1:443/api/v1/pods?limit=500": dial tcp 10.96.0.1:443: i/o timeout"#,
            r#"rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.9:50051: connect: connection refused""#,
        ],
        ..BASE
    },
    Signature {
        id: "go-dns-lookup",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A dependency's name does not resolve (wrong Service name or namespace, Service missing, or DNS unreachable).",
        pattern: r"(?i)lookup\s+(?P<d>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\s+on\s+\S+?)?:\s*(?:no such host|server misbehaving|.*?(?:i/o timeout|connection refused|no route to host|network is unreachable)|Temporary failure in name resolution|no answer from DNS server|Try again)",
        examples: &[
            "dial tcp: lookup redis on 10.96.0.10:53: no such host",
            "lookup postgres.db.svc.cluster.local: no such host",
            "dial tcp: lookup kafka on 10.96.0.10:53: read udp 10.244.0.5:45678->10.96.0.10:53: i/o timeout",
        ],
        ..BASE
    },
    Signature {
        id: "go-io-timeout",
        class: AppDependencyUnreachable,
        priority: 60,
        detail: Detail::Host,
        description: "An established connection to a dependency timed out or was reset by it.",
        pattern: r"(?i)(?:read|write)\s+(?:tcp|udp)[46]?\s+\S+->(?P<d>[^\s:\[]+:\d+|\[[^\]]+\]:\d+):\s*(?:i/o timeout|(?:read|write):\s*connection reset by peer|connection reset by peer|(?:write:\s*)?broken pipe)",
        examples: &[
            "read tcp 10.244.1.5:51234->10.0.0.5:5432: read: connection reset by peer",
            "write tcp 10.244.1.5:40000->10.0.3.7:9092: i/o timeout",
        ],
        ..BASE
    },
    Signature {
        id: "http-client-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "An HTTP call to a dependency failed before a response (timeout, refused, reset).",
        pattern: r#"(?i)(?:(?:Get|Post|Put|Patch|Delete|Head|Options)\s+"?(?P<d>[a-z][a-z0-9+.-]*://[^\s"]+)"?:\s*(?:context deadline exceeded|net/http: request canceled|net/http: TLS handshake timeout|EOF|.*?Client\.Timeout exceeded|dial tcp|read: connection reset)|(?:connecting to|connect to|dialing)\s+"?(?P<d2>[A-Za-z0-9_.\[\]:-]+:\d+)"?[^\n]*?context deadline exceeded)"#,
        examples: &[
            r#"Get "http://user-service:8080/api/users": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"#,
            r#"Post "https://api.payments.example.com/v1/charge": dial tcp 52.1.2.3:443: i/o timeout"#,
            "error connecting to etcd-0.etcd:2379: context deadline exceeded",
        ],
        ..BASE
    },
    Signature {
        id: "tls-handshake-timeout",
        class: AppDependencyUnreachable,
        priority: 58,
        detail: Detail::Host,
        description: "The TLS handshake with a dependency timed out (network path, proxy or overloaded endpoint).",
        pattern: r#"(?i)(?:"(?P<d>[a-z]+://[^"]+)":\s*)?(?:net/http:\s*)?(?:TLS handshake timeout|handshake operation timed out)"#,
        examples: &[
            r#"Get "https://registry.example.com/v2/": net/http: TLS handshake timeout"#,
            "ssl.SSLError: _ssl.c:980: The handshake operation timed out",
        ],
        ..BASE
    },
    Signature {
        id: "java-connect-error",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A JVM client cannot connect to a dependency (refused, timed out, no route).",
        pattern: r"(?:java\.net\.ConnectException|AnnotatedConnectException|ConnectTimeoutException|java\.net\.NoRouteToHostException|HttpHostConnectException|HttpConnectTimeoutException|java\.net\.SocketTimeoutException:\s*connect timed out|SocketException:\s*Network is unreachable)(?:[^\n]*?[\s/](?P<d>[A-Za-z0-9_.-]*/?[A-Za-z0-9_.-]+:\d{2,5})\b)?",
        examples: &[
            "Caused by: java.net.ConnectException: Connection refused",
            "io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: localhost/127.0.0.1:6379",
            "org.apache.http.conn.HttpHostConnectException: Connect to api:8080 [api/10.0.0.5] failed: Connection refused",
        ],
        ..BASE
    },
    Signature {
        id: "java-unknown-host",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A JVM client cannot resolve a dependency's name.",
        pattern: r"(?:UnknownHostException:\s*(?P<d>[A-Za-z0-9_.-]+)|java\.nio\.channels\.UnresolvedAddressException)",
        examples: &[
            "Caused by: java.net.UnknownHostException: db",
            "java.net.UnknownHostException: kafka-0.kafka-headless: Name or service not known",
        ],
        ..BASE
    },
    Signature {
        id: "node-connect-error",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A Node.js client cannot connect to a dependency.",
        pattern: r"(?:\b(?:connect\s+)?(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\s+(?P<d>[\w.\[\]:-]+:\d+|/\S+)|code:\s*'(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)'[^\n]*?address:\s*'(?P<d2>[^']+)'(?:,\s*port:\s*(?P<p>\d+))?)",
        examples: &[
            "Error: connect ECONNREFUSED 127.0.0.1:5432",
            "[ioredis] Unhandled error event: Error: connect ETIMEDOUT 10.0.0.1:6379",
            "ECONNREFUSED 10.0.0.1:6379",
        ],
        ..BASE
    },
    Signature {
        id: "node-dns-error",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A Node.js client cannot resolve a dependency's name.",
        pattern: r"(?:getaddrinfo\s+(?:ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)\s+(?P<d>[A-Za-z0-9_.-]+)(?::(?P<p>\d+))?|query\w*\s+(?:ENOTFOUND|ETIMEOUT|EREFUSED|ESERVFAIL)\s+(?P<d2>[A-Za-z0-9_.-]+))",
        examples: &[
            "Error: getaddrinfo ENOTFOUND db",
            "MongoNetworkError: getaddrinfo EAI_AGAIN mongo-0.mongo",
        ],
        ..BASE
    },
    Signature {
        id: "python-connection-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A Python client (requests/urllib3, aiohttp, redis-py) cannot reach a dependency.",
        pattern: r"(?:HTTPS?ConnectionPool\(host='(?P<d>[^']+)',\s*port=(?P<p>\d+)\)|Cannot connect to host\s+(?P<d2>\S+?:\d+)|Error\s+-?\d+\s+connecting to\s+(?P<d3>[\w.-]+:\d+)|Failed to resolve\s+'(?P<d4>[^']+)')",
        examples: &[
            "requests.exceptions.ConnectionError: HTTPConnectionPool(host='api', port=8080): Max retries exceeded with url: /v1 (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused'))",
            "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host api:8080 ssl:default [Connection refused]",
            "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.",
        ],
        ..BASE
    },
    Signature {
        id: "postgres-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A PostgreSQL client cannot reach the server (libpq, psycopg, pgJDBC), or the server is not accepting connections yet.",
        pattern: r#"(?i)(?:connection to server at\s+"(?P<d>[^"]+)"(?:\s+\([^)]*\))?,\s*port\s+(?P<p>\d+)\s+failed|could not translate host name\s+"(?P<d2>[^"]+)"\s+to address|could not connect to server:\s*(?:Connection refused|No such file or directory|Connection timed out|No route to host)|Is the server running on host\s+"(?P<d3>[^"]+)"|Connection to\s+(?P<d4>[\w.-]+:\d+)\s+refused|the database system is (?:starting up|shutting down|in recovery mode))"#,
        detail_next: Some(r#"Is the server running on host\s+"(?P<d>[^"]+)""#),
        examples: &[
            r#"psycopg2.OperationalError: connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused"#,
            "psycopg2.OperationalError: could not connect to server: Connection refused",
            r#"could not translate host name "postgres" to address: Name or service not known"#,
            "org.postgresql.util.PSQLException: Connection to db:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
        ],
    },
    Signature {
        id: "mysql-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A MySQL/MariaDB client cannot reach the server.",
        pattern: r"(?i)(?:Can't connect to MySQL server on\s+'(?P<d>[^']+)'(?:\s*:\s*(?P<p>\d+))?|Unknown MySQL server host\s+'(?P<d2>[^']+)'|Communications link failure|Can't connect to local MySQL server through socket\s+'(?P<d3>[^']+)')",
        examples: &[
            r#"(2003, "Can't connect to MySQL server on 'mysql' ([Errno 111] Connection refused)")"#,
            "ERROR 2005 (HY000): Unknown MySQL server host 'mysql-primary' (-2)",
            "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure",
        ],
        ..BASE
    },
    Signature {
        id: "redis-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A Redis client cannot reach the server.",
        pattern: r"(?i)(?:Could not connect to Redis at\s+(?P<d>[\w.-]+:\d+)|Redis connection to\s+(?P<d4>[\w.-]+:\d+)\s+failed|RedisConnectionException:\s*Unable to connect to\s+(?P<d2>[\w.\-/<>]+:\d+)|JedisConnectionException:\s*(?:Could not get a resource from the pool|Failed (?:to )?connect(?:ing)? to[^\n]*?(?P<d3>[\w.-]+:\d+)))",
        examples: &[
            "Could not connect to Redis at redis:6379: Connection refused",
            "io.lettuce.core.RedisConnectionException: Unable to connect to redis-master:6379",
            "redis.clients.jedis.exceptions.JedisConnectionException: Could not get a resource from the pool",
            "Error: Redis connection to redis-master:6379 failed - connect ECONNREFUSED 10.0.0.3:6379",
        ],
        ..BASE
    },
    Signature {
        id: "kafka-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A Kafka client cannot reach the brokers (wrong bootstrap servers or advertised listeners).",
        pattern: r"(?i)(?:Connection to node\s+-?\d+\s+\((?P<d>[^)]+)\)\s+could not be established|Bootstrap broker\s+(?P<d2>\S+)\s+\([^)]*\)\s+disconnected|(?:connect(?:ing)? to|connection to) broker\s+(?P<d4>[\w.-]+:\d+)|kafka: client has run out of available brokers|NoBrokersAvailable|(?P<d3>[\w.-]+:\d+)/(?:bootstrap|\d+):\s*(?:Connect to [^\n]*? failed|Failed to resolve)|Broker may not be available)",
        examples: &[
            "Connection to node -1 (localhost/127.0.0.1:9092) could not be established. Broker may not be available.",
            "%3|1700000000.000|FAIL|rdkafka#producer-1| [thrd:kafka:9092/bootstrap]: kafka:9092/bootstrap: Failed to resolve 'kafka:9092': Name or service not known",
            "kafka: client has run out of available brokers to talk to: dial tcp: lookup kafka on 10.96.0.10:53: no such host",
        ],
        ..BASE
    },
    Signature {
        id: "mongo-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A MongoDB client cannot select a server (unreachable, wrong host or replica-set name).",
        pattern: r"(?i)(?:MongoServerSelectionError|MongoNetworkError|MongoTimeoutException|MongoSocketOpenException|ServerSelectionTimeoutError|server selection (?:error|timeout)|MongooseServerSelectionError)(?:[^\n]*?(?:\[|\s|address=|Addr:\s*)(?P<d>[A-Za-z0-9_.-]+:\d{2,5}))?",
        examples: &[
            "MongoServerSelectionError: connect ECONNREFUSED 127.0.0.1:27017",
            "pymongo.errors.ServerSelectionTimeoutError: mongo:27017: [Errno -2] Name or service not known",
            "com.mongodb.MongoTimeoutException: Timed out after 30000 ms while waiting to connect. Client view of cluster state is {type=UNKNOWN, servers=[{address=mongo:27017, type=UNKNOWN, state=CONNECTING}]",
        ],
        ..BASE
    },
    Signature {
        id: "amqp-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "An AMQP (RabbitMQ) client cannot connect to the broker.",
        pattern: r"(?i)(?:AMQPConnectionError|AmqpConnectException|IncompatibleProtocolError|Socket closed abruptly during opening handshake|(?:Could not|Failed to|Unable to)\s+connect to\s+(?:RabbitMQ|AMQP|the broker))(?:[^\n]*?(?P<d>amqps?://\S+|[A-Za-z0-9_.-]+:\d{2,5}))?",
        examples: &[
            "pika.exceptions.AMQPConnectionError",
            "org.springframework.amqp.AmqpConnectException: java.net.ConnectException: Connection refused",
            "Failed to connect to RabbitMQ at amqp://guest:guest@rabbitmq:5672/: connection refused",
        ],
        ..BASE
    },
    Signature {
        id: "dotnet-socket-error",
        class: AppDependencyUnreachable,
        priority: 62,
        detail: Detail::Host,
        description: "A .NET client cannot reach a dependency.",
        pattern: r"(?:SocketException\s*\(\d+\):\s*(?:Connection refused|Name or service not known|No such device or address|Resource temporarily unavailable|Connection timed out)(?:\s*\((?P<d>[\w.\[\]:-]+)\))?|HttpRequestException:\s*(?:Connection refused|Name or service not known|No such host is known)\s*\((?P<d2>[\w.\[\]:-]+)\)|NpgsqlException[^\n]*?Failed to connect to\s+(?P<d3>\S+?:\d+)|A network-related or instance-specific error occurred while establishing a connection to SQL Server)",
        examples: &[
            "System.Net.Http.HttpRequestException: Connection refused (catalog-api:80)",
            "System.Net.Sockets.SocketException (111): Connection refused",
            "Npgsql.NpgsqlException (0x80004005): Failed to connect to 10.0.0.5:5432",
        ],
        ..BASE
    },
    Signature {
        id: "shell-tool-connect-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "A wait/check tool (curl, wget, nc, nslookup, pg_isready) in an init container or script cannot reach the dependency it waits for.",
        pattern: r#"(?i)(?:curl:\s*\(\d+\)\s*(?:Failed to connect to\s+(?P<d>\S+)\s+port\s+(?P<p>\d+)|Could not resolve host:\s*(?P<d2>\S+)|(?:Connection|Operation) timed out after)|wget:\s*(?:can't connect to remote host\s*\((?P<d3>[^)]+)\)|bad address\s+'(?P<d4>[^']+)'|unable to resolve host address\s+[‘'"](?P<d5>[^’'"]+)[’'"])|nc:\s*(?:getaddrinfo for host\s+"(?P<d6>[^"]+)"\s+port\s+(?P<p2>\d+)|connect to\s+(?P<d7>\S+)\s+port\s+(?P<p3>\d+)[^\n]*?failed|bad address\s+'(?P<d8>[^']+)')|nslookup:\s*can't resolve\s+'?(?P<d9>[^'\s:]+)'?|\*\*\s*server can't find\s+(?P<d10>[^\s:]+):\s*(?:NXDOMAIN|SERVFAIL|REFUSED)|(?P<d11>[\w.-]+):(?P<p4>\d+)\s+-\s+no response|Errno::(?:ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT):[^\n]*?connect\(2\) for\s+"?(?P<d12>[^"\s]+)"?\s+port\s+(?P<p5>\d+))"#,
        examples: &[
            "curl: (7) Failed to connect to backend port 8080 after 2 ms: Connection refused",
            "curl: (6) Could not resolve host: api.internal",
            "wget: bad address 'config-server:8888'",
            "nslookup: can't resolve 'mydb'",
            "** server can't find myservice.default.svc.cluster.local: NXDOMAIN",
            "db:5432 - no response",
        ],
        ..BASE
    },
    Signature {
        id: "nginx-upstream-error",
        class: AppDependencyUnreachable,
        priority: 63,
        detail: Detail::Host,
        description: "nginx cannot resolve or reach an upstream (the backend Service name or its endpoints).",
        pattern: r#"(?:host not found in upstream\s+"(?P<d>[^"]+)"|connect\(\) failed \((?:111: Connection refused|110: Connection timed out|113: No route to host)\) while connecting to upstream[^\n]*?upstream:\s*"(?P<d2>[^"]+)"|no live upstreams while connecting to upstream[^\n]*?upstream:\s*"(?P<d3>[^"]+)"|(?P<d4>[\w.-]+) could not be resolved \([^)]*\))"#,
        examples: &[
            r#"nginx: [emerg] host not found in upstream "backend:8080" in /etc/nginx/conf.d/default.conf:12"#,
            r#"2024/01/01 10:00:00 [error] 29#29: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.244.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://10.96.12.7:8080/", host: "shop""#,
        ],
        ..BASE
    },
    Signature {
        id: "x509-certificate-error",
        class: AppDependencyUnreachable,
        priority: 58,
        detail: Detail::Host,
        description: "TLS verification of a dependency failed (unknown CA, expired certificate, name not in the certificate): mount the CA bundle, renew the certificate or use the certified name.",
        pattern: r#"(?i)(?:(?:Get|Post|Put|Patch|Delete|Head)\s+"(?P<d>[a-z][a-z0-9+.-]*://[^"]+)":\s*[^\n]*?)?(?:x509:\s*(?:certificate signed by unknown authority|certificate has expired or is not yet valid|certificate is valid for [^\n]*?,?\s+not\s+(?P<d2>[^\s,"]+)|cannot validate certificate for\s+(?P<d3>\S+)\s+because|certificate is not valid for any names|certificate relies on legacy Common Name field)|tls: failed to verify certificate|CERTIFICATE_VERIFY_FAILED|PKIX path building failed|unable to find valid certification path to requested target|unable to (?:verify|get local issuer) (?:the first )?certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|self[- ]signed certificate in certificate chain|CERT_HAS_EXPIRED|\bcertificate has expired\b|SSL certificate problem|ERR_TLS_CERT_ALTNAME_INVALID)"#,
        examples: &[
            r#"Get "https://vault.vault:8200/v1/sys/health": x509: certificate signed by unknown authority"#,
            "x509: certificate is valid for api.internal, not api.example.com",
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed certificate in certificate chain (_ssl.c:1007)",
            "Error: unable to verify the first certificate",
        ],
        ..BASE
    },
    Signature {
        id: "grpc-unavailable",
        class: AppDependencyUnreachable,
        priority: 52,
        detail: Detail::Host,
        description: "A gRPC call failed because the server was unavailable or did not answer in time.",
        pattern: r#"(?i)rpc error:\s*code\s*=\s*(?:Unavailable|DeadlineExceeded)\s*desc\s*=(?:[^\n]*?(?:connect to|target|address)\s*[=:]?\s*"?(?P<d>[A-Za-z0-9_.\[\]-]+:\d+))?"#,
        examples: &[
            "rpc error: code = Unavailable desc = name resolver error: produced zero addresses",
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
        ],
        ..BASE
    },
    Signature {
        id: "db-too-many-connections",
        class: AppDependencyUnreachable,
        priority: 56,
        detail: Detail::None,
        description: "The database refuses new connections: its connection limit is reached (pool sizes × replicas too large).",
        pattern: r"(?i)(?:sorry, too many clients already|Too many connections|remaining connection slots are reserved|ERR max number of clients reached)",
        examples: &["FATAL:  sorry, too many clients already", "SQLSTATE[08004] [1040] Too many connections"],
        ..BASE
    },
    Signature {
        id: "connection-refused",
        class: AppDependencyUnreachable,
        priority: 50,
        detail: Detail::Host,
        description: "A connection was refused (nothing listening at the address, or no ready endpoints behind the Service).",
        pattern: r#"(?i)(?:(?:\bto|\bat|\bhost)\s+['"]?(?P<d>[A-Za-z0-9_.-]+:\d{2,5})['"]?[^\n]*?)?(?:\bconnection refused\b(?::\s*(?P<d2>[A-Za-z0-9_.-]*/?[A-Za-z0-9_.-]+:\d{2,5}))?|\[Errno 111\]|\bECONNREFUSED\b|os error 111|upstream connect error or disconnect/reset before headers|no healthy upstream)"#,
        examples: &[
            "Failed to connect to db:5432: Connection refused",
            "error trying to connect: tcp connect error: Connection refused (os error 111)",
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
            r#"{"log.level":"ERROR","message":"Connection refused: redis/10.0.0.8:6379"}"#,
        ],
        ..BASE
    },
    Signature {
        id: "name-resolution-failure",
        class: AppDependencyUnreachable,
        priority: 50,
        detail: Detail::Host,
        description: "A host name did not resolve (wrong Service name/namespace, or cluster DNS unreachable).",
        pattern: r#"(?i)(?:getaddrinfo(?: for (?P<d>[A-Za-z0-9_.-]+))? failed|could not resolve host(?:name)?:?\s*['"]?(?P<d2>[A-Za-z0-9_.-]+)|Name or service not known|Temporary failure in name resolution|nodename nor servname provided|No address associated with hostname|\[Errno -[235]\]|UnresolvedAddressException|name resolver error)"#,
        examples: &[
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
            "SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for mysql failed: Name or service not known",
            "Could not resolve hostname: 'config-server'",
        ],
        ..BASE
    },
    Signature {
        id: "connection-timeout",
        class: AppDependencyUnreachable,
        priority: 50,
        detail: Detail::Host,
        description: "A connection attempt timed out or had no route (NetworkPolicy, firewall, wrong address).",
        pattern: r#"(?i)(?:timed out connecting to\s+['"]?(?P<d>[A-Za-z0-9_.-]+(?::\d+)?)|connection timed out|connect timed out|\[Errno 110\]|\bETIMEDOUT\b|No route to host|Network is unreachable|\bEHOSTUNREACH\b|\bENETUNREACH\b|\[Errno 11[13]\]|\[Errno 101\])"#,
        examples: &[
            "OSError: [Errno 113] No route to host",
            "timed out connecting to elasticsearch:9200 after 30s",
            "psycopg.OperationalError: connection is bad: Connection timed out",
        ],
        ..BASE
    },
    // ---------------------------------------------------------------- specific app errors
    Signature {
        id: "missing-module",
        class: AppError,
        priority: 45,
        detail: Detail::Text,
        description: "A library module, class or shared library is missing from the image (dependency not installed at build time).",
        pattern: r"(?:ModuleNotFoundError:\s*No module named\s+'(?P<d>[^']+)'|ImportError:\s*(?:No module named\s+'?(?P<d2>[\w.]+)'?|cannot import name\s+'(?P<d3>[^']+)')|Cannot find (?:module|package)\s+'(?P<d4>[^'/][^']*)'|cannot load such file --\s*(?P<d5>\S+)|java\.lang\.(?:ClassNotFoundException|NoClassDefFoundError):\s*(?P<d6>[\w./$]+)|error while loading shared libraries:\s*(?P<d7>[\w.+-]+):\s*cannot open shared object file|ImportError:\s*(?P<d8>lib[\w.+-]+\.so[\w.]*):\s*cannot open shared object file)",
        examples: &[
            "ModuleNotFoundError: No module named 'flask'",
            "Error: Cannot find module 'express'",
            "java.lang.ClassNotFoundException: org.postgresql.Driver",
            "/app/server: error while loading shared libraries: libssl.so.1.1: cannot open shared object file: No such file or directory",
        ],
        ..BASE
    },
    Signature {
        id: "too-many-open-files",
        class: AppError,
        priority: 46,
        detail: Detail::Label("open-file or inotify limit"),
        description: "The process hit its open-file limit (descriptor leak or low ulimit; inotify limits on the node give the same text).",
        pattern: r"(?i)(?:too many open files|\bEMFILE\b|\[Errno 24\]|System limit for number of file watchers reached)",
        examples: &[
            "accept4: too many open files; retrying in 1s",
            "Error: EMFILE: too many open files, watch '/app/src'",
        ],
        ..BASE
    },
    Signature {
        id: "disk-full",
        class: AppError,
        priority: 45,
        detail: Detail::Label("no space left on device"),
        description: "A write failed because the volume or the node's disk is full (grow the PVC or clean up; set ephemeral-storage limits).",
        pattern: r"(?i)(?:(?:write|open|mkdir|create|sync)\s+(?P<d>/[^\s:]+):\s*no space left on device|no space left on device|\bENOSPC\b|\[Errno 28\]|disk quota exceeded)",
        examples: &[
            "write /var/lib/prometheus/wal/00000042: no space left on device",
            "OSError: [Errno 28] No space left on device",
        ],
        ..BASE
    },
    Signature {
        id: "native-crash",
        class: AppError,
        priority: 30,
        detail: Detail::None,
        description: "The process crashed on a fatal signal (segmentation fault, abort).",
        pattern: r"(?i)(?:Segmentation fault|segfault at|Fatal signal 11|received signal SIGSEGV|SIGSEGV \(0xb\)|Aborted \(core dumped\))",
        examples: &["Segmentation fault (core dumped)", "#  SIGSEGV (0xb) at pc=0x00007f, pid=1, tid=7"],
        ..BASE
    },
    Signature {
        id: "go-panic",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A Go program panicked or hit a fatal runtime error.",
        pattern: r"(?:^|[\s\]])(?:panic|fatal error):\s+(?P<d>.*\S)",
        examples: &[
            "panic: runtime error: invalid memory address or nil pointer dereference",
            "fatal error: concurrent map writes",
        ],
        ..BASE
    },
    Signature {
        id: "rust-panic",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A Rust program panicked.",
        pattern: r"thread '[^']*' panicked at\s+(?:'(?P<d>[^']+)'|(?P<d2>[^\s,]+?):?\s*$|(?P<d3>.*\S))",
        examples: &[
            "thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value: Os { code: 2 }', src/main.rs:14:5",
            "thread 'main' panicked at src/config.rs:22:10:",
        ],
        ..BASE
    },
    Signature {
        id: "java-uncaught-exception",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A JVM thread died on an uncaught exception.",
        pattern: r#"Exception in thread\s+"[^"]*"\s+(?P<d>[\w.$]+)"#,
        examples: &[r#"Exception in thread "main" java.lang.IllegalStateException: boom"#],
        ..BASE
    },
    Signature {
        id: "java-caused-by",
        class: AppError,
        priority: 26,
        detail: Detail::Text,
        description: "A JVM exception cause (the last `Caused by:` is the root cause).",
        pattern: r"Caused by:\s*(?P<d>[\w.$]+)(?::|\s|$)",
        examples: &[
            "Caused by: org.hibernate.HibernateException: Access to DialectResolutionInfo cannot be null",
        ],
        ..BASE
    },
    Signature {
        id: "exception-line",
        class: AppError,
        priority: 24,
        detail: Detail::Text,
        description: "An exception line (Python traceback tail, Java/Node error line).",
        pattern: r"^\s*(?:Uncaught\s+)?(?P<d>(?:[a-z_][\w]*\.)*(?:[A-Z][A-Za-z0-9]*)?(?:Error|Exception)|(?:[a-z_]\w*\.)*(?:exceptions?|exc|errors)\.[A-Z]\w*)(?::\s|\s*$)",
        examples: &[
            "ValueError: invalid literal",
            "django.core.exceptions.ImproperlyConfigured: Requested setting DEBUG, but settings are not configured.",
            "TypeError: Cannot read properties of undefined (reading 'id')",
        ],
        ..BASE
    },
    Signature {
        id: "node-unhandled-rejection",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A Node.js process died on an unhandled promise rejection or uncaught exception.",
        pattern: r"(?:UnhandledPromiseRejection(?:Warning)?:?\s*(?P<d>.*\S)?|triggerUncaughtException|Uncaught\s+(?P<d2>[A-Z]\w*(?:Error|Exception)))",
        examples: &[
            "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block]",
            "    triggerUncaughtException(err, true /* fromPromise */);",
        ],
        ..BASE
    },
    Signature {
        id: "dotnet-unhandled-exception",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A .NET process died on an unhandled exception.",
        pattern: r"Unhandled [eE]xception[.:]\s*(?P<d>[\w.]+)",
        examples: &["Unhandled exception. System.InvalidOperationException: Unable to resolve service"],
        ..BASE
    },
    Signature {
        id: "ruby-exception",
        class: AppError,
        priority: 25,
        detail: Detail::Text,
        description: "A Ruby process died on an exception.",
        pattern: r"\.rb:\d+:in\s+[`'][^'`]*'?:?\s+.*\((?P<d>[A-Z]\w*(?:::[A-Z]\w*)*)\)\s*$",
        examples: &[
            "/app/lib/worker.rb:10:in `perform': undefined method `id' for nil:NilClass (NoMethodError)",
        ],
        ..BASE
    },
    Signature {
        id: "spring-application-failed",
        class: AppError,
        priority: 22,
        detail: Detail::None,
        description: "Spring Boot failed to start (the description below it names the cause).",
        pattern: r"(?:APPLICATION FAILED TO START|Application run failed)",
        examples: &["APPLICATION FAILED TO START", "o.s.boot.SpringApplication : Application run failed"],
        ..BASE
    },
    Signature {
        id: "process-failed",
        class: AppError,
        priority: 15,
        detail: Detail::None,
        description: "A package manager or supervisor reports that the app process exited with an error.",
        pattern: r"(?:npm (?:ERR!|error) code ELIFECYCLE|error Command failed with exit code \d+|npm (?:ERR!|error) (?:errno|code) \d+)",
        examples: &["npm ERR! code ELIFECYCLE", "error Command failed with exit code 1."],
        ..BASE
    },
    Signature {
        id: "fatal-log-line",
        class: AppError,
        priority: 12,
        detail: Detail::None,
        description: "A log line at fatal/critical/panic level (the app gave up).",
        pattern: r#"(?:(?i:\blevel=(?:fatal|panic|crit(?:ical)?)\b|"(?:level|severity|lvl|log\.level)"\s*:\s*"(?:fatal|panic|crit(?:ical)?|emerg(?:ency)?|alert)")|(?:^|\s|\[)(?:FATAL|CRITICAL|CRIT|PANIC|EMERG)(?:\]|:|\s)|^F\d{4} \d{2}:\d{2}:\d{2})"#,
        examples: &[
            r#"time="2024-01-01T00:00:00Z" level=fatal msg="cannot start server""#,
            r#"{"level":"fatal","ts":1700000000,"msg":"shutting down"}"#,
            "2024-01-01 00:00:00,000 CRITICAL worker crashed",
            "F0101 12:00:00.000000       1 main.go:42] cannot continue",
        ],
        ..BASE
    },
    Signature {
        id: "error-log-line",
        class: AppError,
        priority: 5,
        detail: Detail::None,
        description: "A log line at error level (weakest evidence; shown when nothing more specific is found).",
        pattern: r#"(?:(?i:\blevel=(?:error|err)\b|"(?:level|severity|lvl|log\.level)"\s*:\s*"(?:error|err)")|(?:^|\s|\[)(?:ERROR|ERR|SEVERE)(?:\]|:|\s)|^E\d{4} \d{2}:\d{2}:\d{2})"#,
        examples: &[
            r#"level=error msg="request failed""#,
            r#"{"severity":"ERROR","message":"job failed"}"#,
            "2024-01-01 00:00:00.000 ERROR 1 --- [main] com.example.App : startup failed",
        ],
        ..BASE
    },
];

/// The whole library, for docs and tests.
pub fn signatures() -> &'static [Signature] {
    SIGNATURES
}

struct Compiled {
    set: RegexSet,
    regexes: Vec<Regex>,
    /// Per signature: the capture indices of its detail groups (`d`, `d2`…) and port groups
    /// (`p`, `p2`…), in pattern order.
    detail_groups: Vec<Vec<usize>>,
    port_groups: Vec<Vec<usize>>,
    next: Vec<Option<Regex>>,
}

// The patterns are literals checked by the tests below: compiling them cannot fail at run time.
#[allow(clippy::expect_used)]
static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let sources: Vec<String> =
        SIGNATURES.iter().map(|s| format!("(?m){}", ascii_pattern(s.pattern))).collect();
    // A larger lazy-DFA cache keeps the one-pass union of all patterns on the DFA for a
    // 64 KiB log (the default makes it thrash and fall back to a slower engine).
    let set = RegexSetBuilder::new(&sources)
        .dfa_size_limit(16 << 20)
        .build()
        .expect("signature patterns are valid literals");
    let regexes: Vec<Regex> =
        sources.iter().map(|p| Regex::new(p).expect("signature pattern is a valid literal")).collect();
    let groups = |re: &Regex, prefix: char| -> Vec<usize> {
        re.capture_names()
            .enumerate()
            .filter_map(|(i, name)| {
                let name = name?;
                let rest = name.strip_prefix(prefix)?;
                rest.bytes().all(|b| b.is_ascii_digit()).then_some(i)
            })
            .collect()
    };
    let detail_groups = regexes.iter().map(|re| groups(re, 'd')).collect();
    let port_groups = regexes.iter().map(|re| groups(re, 'p')).collect();
    let next = SIGNATURES
        .iter()
        .map(|s| {
            s.detail_next.map(|p| {
                Regex::new(&format!("(?m){}", ascii_pattern(p))).expect("detail_next is a valid literal")
            })
        })
        .collect();
    Compiled { set, regexes, detail_groups, port_groups, next }
});

/// Compiles the library now instead of on the first [`scan`] (about 0.1 s of CPU, once per
/// process): call it while collection is in flight.
pub fn prepare() {
    LazyLock::force(&COMPILED);
}

/// All signatures found in `log`, most diagnostic first (priority, then newest line), one per
/// signature (its last occurrence), at most [`MAX_MATCHES`].
pub fn scan(log: &str) -> Vec<LogMatch> {
    let c = &*COMPILED;
    let norm = normalize(log);
    let hits = c.set.matches(&norm);
    if !hits.matched_any() {
        return Vec::new();
    }
    let spans = line_spans(&norm);
    let mut found: Vec<(u8, usize, LogMatch)> = Vec::new();
    for i in hits.iter() {
        let re = &c.regexes[i];
        for (idx, &(start, end)) in spans.iter().enumerate().rev() {
            let Some(caps) = re.captures(&norm[start..end]) else { continue };
            let m = build_match(c, i, &caps, idx, &spans, &norm, log);
            found.push((SIGNATURES[i].priority, i, m));
            break;
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.line_no.cmp(&a.2.line_no)).then(a.1.cmp(&b.1)));
    found.truncate(MAX_MATCHES);
    found.into_iter().map(|(_, _, m)| m).collect()
}

/// The single most diagnostic match: specific causes beat generic ones (a bare panic, a stack
/// trace, an error-level line); among equals, the newest line wins.
pub fn best(log: &str) -> Option<LogMatch> {
    scan(log).into_iter().next()
}

fn build_match(
    c: &Compiled,
    i: usize,
    caps: &Captures<'_>,
    idx: usize,
    spans: &[(usize, usize)],
    norm: &str,
    log: &str,
) -> LogMatch {
    let sig = &SIGNATURES[i];
    let (start, end) = spans[idx];
    let mut detail = extract_detail(sig.detail, caps, &c.detail_groups[i], &c.port_groups[i]);
    if detail.is_none()
        && let Some(next) = &c.next[i]
    {
        detail = spans.iter().skip(idx + 1).take(NEXT_LINES).find_map(|&(s, e)| {
            let caps = next.captures(&norm[s..e])?;
            caps.name("d").and_then(|m| clean(sig.detail, m.as_str(), None))
        });
    }
    let detail = detail.map(|d| redact(&d).into_owned());
    let (ms, me) = caps.get(0).map_or((0, 0), |m| (m.start(), m.end()));
    // `norm` and `log` have the same length and line boundaries (normalisation is
    // length-preserving and touches only ASCII), so the raw line is at the same offsets.
    let raw = log.get(start..end).unwrap_or(&norm[start..end]);
    let matched = raw.get(ms..me).unwrap_or("");
    LogMatch {
        signature: sig.id,
        class: sig.class,
        line: display_line(raw, matched),
        line_no: idx + 1,
        detail,
    }
}

fn extract_detail(kind: Detail, caps: &Captures<'_>, dgroups: &[usize], pgroups: &[usize]) -> Option<String> {
    let first = |groups: &[usize]| groups.iter().find_map(|&g| caps.get(g)).map(|m| m.as_str());
    match kind {
        Detail::None => None,
        Detail::Rbac => rbac_detail(caps),
        Detail::Label(label) => Some(match first(dgroups).and_then(|d| clean(Detail::Text, d, None)) {
            Some(d) => format!("{label} ({d})"),
            None => label.to_string(),
        }),
        _ => clean(kind, first(dgroups)?, first(pgroups)),
    }
}

fn rbac_detail(caps: &Captures<'_>) -> Option<String> {
    let get = |n: &str| caps.name(n).map(|m| m.as_str().trim()).filter(|s| !s.is_empty());
    let user = get("user")?;
    let verb = get("verb")?;
    let res = get("res").or_else(|| get("res2"))?;
    let mut out = format!("{user} cannot {verb} {res}");
    if let Some(g) = get("group") {
        out.push('.');
        out.push_str(g);
    }
    if let Some(ns) = get("ns") {
        out.push_str(" in namespace ");
        out.push_str(ns);
    } else if get("cluster").is_some() {
        out.push_str(" at cluster scope");
    }
    Some(out)
}

/// Trims quotes and punctuation and applies the detail kind's normalisation; `None` when
/// nothing is left.
fn clean(kind: Detail, raw: &str, port: Option<&str>) -> Option<String> {
    let t = raw
        .trim()
        .trim_start_matches(['"', '\'', '`', '‘', '’', '(', '<', '$', '{'])
        .trim_end_matches(['"', '\'', '`', '‘', '’', ')', ',', ';', '.', ':', '>', '}'])
        .trim();
    let out = match kind {
        Detail::Host => host_port(t, port),
        Detail::Port => port_of(t),
        _ if matches!(t, "Error" | "Exception" | "error") => String::new(), // names nothing
        _ => t.to_string(),
    };
    if out.is_empty() {
        return None;
    }
    Some(match out.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    })
}

/// `host:port` or `host` from a URL, a Java `name/10.0.0.5:5432`, a bare address or path.
fn host_port(raw: &str, port: Option<&str>) -> String {
    let mut s = raw;
    if let Some(i) = s.find("://") {
        let rest = &s[i + 3..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let auth = &rest[..end];
        s = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    }
    let mut out = s.to_string();
    if !s.starts_with('/') {
        if let Some((name, addr)) = s.split_once('/') {
            // Java/Netty: `name/ip:port`, or `name/<unresolved>:port`.
            let addr_port =
                addr.rsplit_once(':').map(|(_, p)| p).filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
            out = match (name.is_empty(), addr_port) {
                (true, _) => addr.to_string(),
                (false, Some(p)) => format!("{name}:{p}"),
                (false, None) => name.to_string(),
            };
        }
    } else if let Some(rest) = s.strip_prefix('/')
        && rest.contains(':')
        && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b':')
    {
        out = rest.to_string(); // Netty `/10.0.0.5:9042`
    }
    if let Some(p) = port.map(str::trim).filter(|p| !p.is_empty()) {
        let has_port = out.rsplit_once(':').is_some_and(|(h, q)| {
            !h.is_empty() && !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':')
        });
        if !has_port {
            out = format!("{out}:{p}");
        }
    }
    out
}

/// The port of `:8080`, `0.0.0.0:80`, `:::3000`, `[::]:80`, `http://0.0.0.0:80`, `8080`.
fn port_of(raw: &str) -> String {
    let t = raw.trim_end_matches('/');
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.to_string();
    }
    match t.rsplit_once(':') {
        Some((_, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.to_string(),
        _ => t.to_string(),
    }
}

/// Byte spans of the lines of `text` (without the `\n`).
fn line_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            spans.push((start, i));
            start = i + 1;
        }
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

/// Neutralises what hides text from the patterns, without changing length or line breaks:
/// ANSI escape sequences and `\r` become spaces; JSON string escapes `\"`, `\/`, `\'` become
/// a space and the character (a run of backslashes before a quote, from nested escaping,
/// becomes spaces), `\n`/`\t`/`\r` two spaces, `\u00XX` (printable ASCII)
/// five spaces and the character. Only ASCII bytes are rewritten, so the result is valid UTF-8
/// with the same char boundaries as the input.
fn normalize(log: &str) -> Cow<'_, str> {
    let b = log.as_bytes();
    if !b.iter().any(|&x| x == b'\\' || x == 0x1b || x == b'\r') {
        return Cow::Borrowed(log);
    }
    let mut out = b.to_vec();
    let n = b.len();
    let mut i = 0;
    while i < n {
        match b[i] {
            0x1b => {
                out[i] = b' ';
                let mut j = i + 1;
                if j < n && b[j] == b'[' {
                    out[j] = b' ';
                    j += 1;
                    while j < n && (0x20..=0x3f).contains(&b[j]) {
                        out[j] = b' ';
                        j += 1;
                    }
                    if j < n && (0x40..=0x7e).contains(&b[j]) {
                        out[j] = b' ';
                        j += 1;
                    }
                }
                i = j;
            }
            b'\r' => {
                out[i] = b' ';
                i += 1;
            }
            b'\\' if i + 1 < n && b[i + 1] == b'\\' => {
                // A run of backslashes (nested JSON escaping, `\\\"`): blank it when it escapes a
                // quote, otherwise skip it whole so `\\n` is not read as a newline escape.
                let mut j = i;
                while j < n && b[j] == b'\\' {
                    j += 1;
                }
                if j < n && (b[j] == b'"' || b[j] == b'\'') {
                    out[i..j].fill(b' ');
                    i = j + 1;
                } else if j < n && (j - i) % 2 == 1 {
                    i = j - 1; // the last backslash starts an escape of its own
                } else {
                    i = j;
                }
            }
            b'\\' if i + 1 < n => match b[i + 1] {
                b'"' | b'/' | b'\'' => {
                    out[i] = b' ';
                    i += 2;
                }
                b'n' | b't' | b'r' => {
                    out[i] = b' ';
                    out[i + 1] = b' ';
                    i += 2;
                }
                b'u' if i + 5 < n && b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 6]).ok();
                    let ch = hex
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|v| (0x20..0x7f).contains(v));
                    if let Some(v) = ch {
                        out[i..i + 5].fill(b' ');
                        out[i + 5] = v as u8;
                    }
                    i += 6;
                }
                _ => i += 1,
            },
            _ => i += 1,
        }
    }
    String::from_utf8(out).map_or(Cow::Borrowed(log), Cow::Owned)
}

/// The raw line without ANSI codes, redacted, trimmed; cut to [`MAX_LINE_CHARS`] around the
/// matched text when longer.
fn display_line(raw: &str, matched: &str) -> String {
    let plain = strip_ansi(raw);
    let red = redact(&plain);
    let line = red.trim();
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let needle_src = strip_ansi(matched);
    let needle_red = redact(&needle_src);
    let needle: String = needle_red.trim().chars().take(24).collect();
    let pos = if needle.is_empty() { 0 } else { line.find(&needle).unwrap_or(0) };
    // Start a little before the match, on a char boundary.
    let lead = line[..pos].char_indices().rev().nth(79).map_or(0, |(i, _)| i);
    let window: String = line[lead..].chars().take(MAX_LINE_CHARS - 2).collect();
    let mut out = String::with_capacity(window.len() + 6);
    if lead > 0 {
        out.push('…');
    }
    out.push_str(window.trim());
    if lead + window.len() < line.len() {
        out.push('…');
    }
    out
}

fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\u{1b}' {
            out.push(ch);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            while let Some(&c) = chars.peek() {
                chars.next();
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(log: &str) -> Vec<&'static str> {
        scan(log).into_iter().map(|m| m.signature).collect()
    }

    fn one(log: &str, id: &str) -> LogMatch {
        scan(log)
            .into_iter()
            .find(|m| m.signature == id)
            .unwrap_or_else(|| panic!("{id} not found in {log:?}; got {:?}", ids(log)))
    }

    #[test]
    fn library_is_large_unique_and_compiles() {
        let sigs = signatures();
        assert!(sigs.len() >= 40, "only {} signatures", sigs.len());
        let mut seen = std::collections::BTreeSet::new();
        for s in sigs {
            assert!(seen.insert(s.id), "duplicate id {}", s.id);
            assert!(
                s.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "id not kebab-case: {}",
                s.id
            );
            assert!(!s.description.is_empty() && !s.examples.is_empty(), "{} lacks docs", s.id);
        }
        let c = &*COMPILED;
        assert_eq!(c.regexes.len(), sigs.len());
        for (i, s) in sigs.iter().enumerate() {
            let wants_groups = !matches!(s.detail, Detail::None | Detail::Rbac | Detail::Label(_));
            assert!(!wants_groups || !c.detail_groups[i].is_empty(), "{} has no d group", s.id);
        }
    }

    #[test]
    fn every_example_matches_its_signature_and_class() {
        for s in signatures() {
            for (k, ex) in s.examples.iter().enumerate() {
                let found = ids(ex);
                assert!(found.contains(&s.id), "{}: example {k} not matched: {ex:?} (got {found:?})", s.id);
                let b = best(ex).map(|m| m.class);
                assert_eq!(
                    b,
                    Some(s.class),
                    "{}: best() of example {k} has another class: {ex:?} {found:?}",
                    s.id
                );
            }
        }
    }

    #[test]
    fn covers_the_log_visible_classes() {
        for class in [
            Class::AppDependencyUnreachable,
            Class::AppPortConflict,
            Class::AppVolumePermissionDenied,
            Class::ImageArchMismatch,
            Class::CommandInvalid,
            Class::ConfigEnvVarMissing,
            Class::ConfigInvalidValue,
            Class::AppRbacForbidden,
            Class::OomKilled,
            Class::AppMissingFile,
            Class::AppError,
        ] {
            assert!(signatures().iter().any(|s| s.class == class), "no signature for {class}");
        }
    }

    #[test]
    fn healthy_lines_match_nothing() {
        for line in [
            "connection established",
            "Connection established to db:5432",
            "listening on :8080",
            "Server listening on 0.0.0.0:8080",
            "0 errors, 0 warnings",
            "No errors found",
            "INFO  Started Application in 3.2 seconds (JVM running for 4.1)",
            "HikariPool-1 - Start completed.",
            "Successfully connected to redis:6379",
            "Connected to MongoDB at mongo:27017",
            "Loaded configuration from /etc/app/config.yaml",
            "level=info msg=\"token refreshed\"",
            "GET /healthz 200 1.2ms",
            "{\"level\":\"info\",\"msg\":\"ready\",\"port\":8080}",
            "2024/01/01 10:00:00 http: TLS handshake error from 10.244.0.1:51234: EOF",
            "retrying in 5s (attempt 2/10)",
            "Using environment variable DATABASE_URL from secret",
            "password authentication method: scram-sha-256",
            "Waiting for connections on port 27017",
            "database system is ready to accept connections",
            "Reconciling pods in namespace shop",
            "errors_total=0 panics=0",
            "Started Kafka consumer for topic orders",
            "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
        ] {
            assert!(ids(line).is_empty(), "false match on {line:?}: {:?}", scan(line));
        }
    }

    #[test]
    fn details() {
        let cases: &[(&str, &str, &str)] = &[
            ("dial tcp 10.0.0.5:5432: connect: connection refused", "go-dial-error", "10.0.0.5:5432"),
            ("dial tcp: lookup redis on 10.96.0.10:53: no such host", "go-dns-lookup", "redis"),
            (
                "lookup db on 10.96.0.10:53: read udp 10.1.0.5:4000->10.96.0.10:53: i/o timeout",
                "go-dns-lookup",
                "db",
            ),
            ("Error: connect ECONNREFUSED 10.0.0.1:6379", "node-connect-error", "10.0.0.1:6379"),
            ("Error: getaddrinfo ENOTFOUND db", "node-dns-error", "db"),
            ("Caused by: java.net.UnknownHostException: db", "java-unknown-host", "db"),
            (
                "AnnotatedConnectException: Connection refused: localhost/127.0.0.1:6379",
                "java-connect-error",
                "localhost:6379",
            ),
            (
                "HTTPConnectionPool(host='api', port=8080): Max retries exceeded",
                "python-connection-error",
                "api:8080",
            ),
            (
                r#"connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused"#,
                "postgres-connect-error",
                "db:5432",
            ),
            (
                "Connection to node -1 (kafka-0/10.0.0.7:9092) could not be established.",
                "kafka-connect-error",
                "kafka-0:9092",
            ),
            (
                "Failed to connect to RabbitMQ at amqp://guest:guest@rabbitmq:5672/",
                "amqp-connect-error",
                "rabbitmq:5672",
            ),
            (
                r#"Get "https://api.example.com:8443/v1": context deadline exceeded"#,
                "http-client-error",
                "api.example.com:8443",
            ),
            (
                "curl: (7) Failed to connect to backend port 8080: Connection refused",
                "shell-tool-connect-error",
                "backend:8080",
            ),
            (
                r#"host not found in upstream "backend:8080" in /etc/nginx/conf.d/x.conf:3"#,
                "nginx-upstream-error",
                "backend:8080",
            ),
            (
                "x509: certificate is valid for a.internal, not b.internal",
                "x509-certificate-error",
                "b.internal",
            ),
            (
                "dial unix /var/run/docker.sock: connect: no such file or directory",
                "go-dial-error",
                "/var/run/docker.sock",
            ),
            ("listen tcp :8080: bind: address already in use", "address-in-use", "8080"),
            ("Error: listen EADDRINUSE: address already in use :::3000", "address-in-use", "3000"),
            ("bind() to 0.0.0.0:80 failed (98: Address already in use)", "address-in-use", "80"),
            ("listen tcp 0.0.0.0:443: bind: permission denied", "privileged-port-denied", "443"),
            ("open /data/app.db: permission denied", "path-permission-denied", "/data/app.db"),
            (
                "PermissionError: [Errno 13] Permission denied: '/var/lib/x'",
                "path-permission-denied",
                "/var/lib/x",
            ),
            ("OSError: [Errno 30] Read-only file system: '/app/cache'", "read-only-filesystem", "/app/cache"),
            ("exec /usr/local/bin/server: exec format error", "exec-format-error", "/usr/local/bin/server"),
            (r#"exec: "wge": executable file not found in $PATH"#, "exec-not-found-in-path", "wge"),
            (
                "exec /docker-entrypoint.sh: no such file or directory",
                "entrypoint-not-found",
                "/docker-entrypoint.sh",
            ),
            ("/bin/sh: 1: gunicorn: not found", "shell-command-not-found", "gunicorn"),
            ("/usr/bin/env: 'bash\r': No such file or directory", "interpreter-not-found", "bash"),
            (r#"environment variable "DATABASE_URL" is not set"#, "env-var-missing", "DATABASE_URL"),
            ("Missing required environment variable: REDIS_URL", "env-var-missing", "REDIS_URL"),
            (
                "The MONGODB_ROOT_PASSWORD environment variable is empty or not set.",
                "env-var-missing",
                "MONGODB_ROOT_PASSWORD",
            ),
            ("required key DB_HOST missing value", "env-var-missing", "DB_HOST"),
            ("SECRET_KEY_BASE must be set", "env-var-missing", "SECRET_KEY_BASE"),
            ("KeyError: 'DATABASE_URL'", "environ-key-error", "DATABASE_URL"),
            (
                "Could not resolve placeholder 'db.url' in value \"${db.url}\"",
                "spring-placeholder-unresolved",
                "db.url",
            ),
            (
                r#"pods is forbidden: User "system:serviceaccount:shop:checkout" cannot list resource "pods" in API group "" in the namespace "shop""#,
                "k8s-rbac-forbidden",
                "system:serviceaccount:shop:checkout cannot list pods in namespace shop",
            ),
            (
                r#"deployments.apps is forbidden: User "system:serviceaccount:ci:runner" cannot patch resource "deployments" in API group "apps" at the cluster scope"#,
                "k8s-rbac-forbidden",
                "system:serviceaccount:ci:runner cannot patch deployments.apps at cluster scope",
            ),
            ("java.lang.OutOfMemoryError: Java heap space", "java-out-of-memory", "JVM (Java heap space)"),
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                "node-heap-out-of-memory",
                "Node.js V8 heap",
            ),
            ("fatal error: runtime: out of memory", "go-runtime-out-of-memory", "Go runtime"),
            ("MemoryError", "python-memory-error", "Python"),
            ("flag provided but not defined: -config.file", "go-flag-undefined", "-config.file"),
            ("Error: unknown flag: --listen-address", "unknown-flag", "--listen-address"),
            (r#"invalid value "abc" for flag -port: parse error"#, "invalid-flag-value", "-port"),
            (
                "Failed to bind properties under 'server.port' to java.lang.Integer",
                "spring-bind-failure",
                "server.port",
            ),
            (
                "Unrecognized VM option 'UseCGroupMemoryLimitForHeap'",
                "jvm-option-invalid",
                "UseCGroupMemoryLimitForHeap",
            ),
            ("yaml: line 3: mapping values are not allowed in this context", "config-yaml-error", "line 3"),
            (r#"FATAL:  password authentication failed for user "app""#, "db-auth-failed", "app"),
            ("Access denied for user 'root'@'10.0.0.3' (using password: YES)", "db-auth-failed", "root"),
            (
                "open /etc/app/config.yaml: no such file or directory",
                "file-not-found",
                "/etc/app/config.yaml",
            ),
            (
                "FileNotFoundError: [Errno 2] No such file or directory: 'config.yaml'",
                "file-not-found",
                "config.yaml",
            ),
            ("Error: ENOENT: no such file or directory, open '/app/x.json'", "file-not-found", "/app/x.json"),
            (
                "java.io.FileNotFoundException: /config/app.yml (No such file or directory)",
                "file-not-found",
                "/config/app.yml",
            ),
            ("ModuleNotFoundError: No module named 'flask'", "missing-module", "flask"),
            ("panic: something broke", "go-panic", "something broke"),
            (
                "Caused by: java.lang.IllegalArgumentException: x",
                "java-caused-by",
                "java.lang.IllegalArgumentException",
            ),
        ];
        for (line, id, want) in cases {
            assert_eq!(one(line, id).detail.as_deref(), Some(*want), "{id} on {line:?}");
        }
    }

    #[test]
    fn best_prefers_the_specific_cause_over_a_panic() {
        let log = "\
2024-05-01T10:00:00Z INFO starting checkout v1.4.2
2024-05-01T10:00:01Z ERROR failed to connect to database error=\"dial tcp 10.0.0.5:5432: connect: connection refused\"
panic: failed to connect to database

goroutine 1 [running]:
main.main()
\t/app/main.go:42 +0x1d
";
        let b = best(log).expect("a match");
        assert_eq!(b.signature, "go-dial-error");
        assert_eq!(b.class, Class::AppDependencyUnreachable);
        assert_eq!(b.detail.as_deref(), Some("10.0.0.5:5432"));
        assert_eq!(b.line_no, 2);
        let all = ids(log);
        assert!(all.contains(&"go-panic"), "{all:?}");
        assert!(all.iter().position(|i| *i == "go-dial-error") < all.iter().position(|i| *i == "go-panic"));
    }

    #[test]
    fn best_takes_the_root_cause_of_a_java_stack_trace() {
        let log = r#"2024-05-01 10:00:00.000 ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed
org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'dataSource'
	at org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.createBean(AbstractAutowireCapableBeanFactory.java:517)
Caused by: org.postgresql.util.PSQLException: The connection attempt failed.
	at org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:331)
Caused by: java.net.UnknownHostException: db
	at java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:567)
	... 42 common frames omitted
"#;
        let b = best(log).expect("a match");
        assert_eq!((b.signature, b.class), ("java-unknown-host", Class::AppDependencyUnreachable));
        assert_eq!(b.detail.as_deref(), Some("db"));
        assert_eq!(b.line_no, 6);
        // The last `Caused by:` (the root cause) is the one kept.
        assert_eq!(one(log, "java-caused-by").detail.as_deref(), Some("java.net.UnknownHostException"));
    }

    #[test]
    fn python_traceback_with_missing_env_var() {
        let log = "\
Traceback (most recent call last):
  File \"/app/main.py\", line 3, in <module>
    DB = os.environ[\"DATABASE_URL\"]
  File \"/usr/local/lib/python3.12/os.py\", line 714, in __getitem__
    raise KeyError(key) from None
KeyError: 'DATABASE_URL'
";
        let b = best(log).expect("a match");
        assert_eq!((b.class, b.detail.as_deref()), (Class::ConfigEnvVarMissing, Some("DATABASE_URL")));
        assert_eq!(b.line_no, 6);
    }

    #[test]
    fn detail_from_following_lines() {
        let mysql = "\
2024-05-01 10:00:00+00:00 [ERROR] [Entrypoint]: Database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD
";
        let b = best(mysql).expect("a match");
        assert_eq!((b.class, b.detail.as_deref()), (Class::ConfigEnvVarMissing, Some("MYSQL_ROOT_PASSWORD")));
        let pg = "\
psycopg2.OperationalError: could not connect to server: Connection refused
\tIs the server running on host \"db\" (10.0.0.5) and accepting
\tTCP/IP connections on port 5432?
";
        let b = best(pg).expect("a match");
        assert_eq!((b.class, b.detail.as_deref()), (Class::AppDependencyUnreachable, Some("db")));
        let spring =
            "Binding to target org.example.Props@1 failed:\n\n    Property: app.timeout\n    Value: abc\n";
        assert_eq!(one(spring, "spring-bind-failure").detail.as_deref(), Some("app.timeout"));
    }

    #[test]
    fn keeps_the_last_occurrence_and_one_match_per_signature() {
        let log = "dial tcp 10.0.0.1:5432: connect: connection refused\nok\ndial tcp 10.0.0.2:5432: connect: connection refused\n";
        let found = scan(log);
        assert_eq!(found.iter().filter(|m| m.signature == "go-dial-error").count(), 1);
        let m = one(log, "go-dial-error");
        assert_eq!((m.line_no, m.detail.as_deref()), (3, Some("10.0.0.2:5432")));
    }

    #[test]
    fn same_priority_prefers_the_newest_line() {
        let log = "Error: getaddrinfo ENOTFOUND cache\nError: connect ECONNREFUSED 10.0.0.9:5432\n";
        assert_eq!(best(log).and_then(|m| m.detail).as_deref(), Some("10.0.0.9:5432"));
    }

    #[test]
    fn results_are_bounded() {
        let log: String =
            signatures().iter().flat_map(|s| s.examples.iter()).map(|e| format!("{e}\n")).collect();
        let found = scan(&log);
        assert_eq!(found.len(), MAX_MATCHES);
        assert!(found.windows(2).all(|w| {
            let p =
                |m: &LogMatch| signatures().iter().find(|s| s.id == m.signature).map_or(0, |s| s.priority);
            p(&w[0]) >= p(&w[1])
        }));
        assert_eq!(found[0].signature, "exec-format-error");
    }

    #[test]
    fn accepts_prefixes_json_and_colours() {
        let stamped = "2024-05-01T10:00:00.123456789Z stderr F [2024-05-01 10:00:00] ERROR: dial tcp 10.0.0.5:6379: i/o timeout";
        assert_eq!(best(stamped).and_then(|m| m.detail).as_deref(), Some("10.0.0.5:6379"));
        let json = r#"{"level":"error","ts":1714557600.1,"logger":"db","msg":"connect failed","error":"failed to connect to `host=db user=app`: hostname resolving error (lookup db on 10.96.0.10:53: no such host)"}"#;
        let b = best(json).expect("a match");
        assert_eq!((b.signature, b.detail.as_deref()), ("go-dns-lookup", Some("db")));
        assert_eq!(b.line, json);
        let escaped =
            r#"{"message":"OCI runtime create failed: exec: \"wge\": executable file not found in $PATH"}"#;
        assert_eq!(best(escaped).and_then(|m| m.detail).as_deref(), Some("wge"));
        let rbac = r#"{"msg":"HTTP response body: {\"kind\":\"Status\",\"message\":\"pods is forbidden: User \\\"system:serviceaccount:ci:bot\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" in the namespace \\\"ci\\\"\"}"}"#;
        let m = one(rbac, "k8s-rbac-forbidden");
        assert_eq!(
            m.detail.as_deref(),
            Some("system:serviceaccount:ci:bot cannot list pods in namespace ci")
        );
        let coloured = "\u{1b}[31mERROR\u{1b}[0m listen tcp :9090: bind: address already in use";
        let m = one(coloured, "address-in-use");
        assert_eq!(m.detail.as_deref(), Some("9090"));
        assert_eq!(m.line, "ERROR listen tcp :9090: bind: address already in use");
        let go_json =
            r#"{"msg":"dial tcp 10.0.0.5:5432: connect: connection refused","conn":"\u003cnil\u003e"}"#;
        assert_eq!(best(go_json).and_then(|m| m.detail).as_deref(), Some("10.0.0.5:5432"));
    }

    #[test]
    fn lines_are_redacted_and_bounded() {
        let line = "level=error msg=\"db connect failed\" dsn=\"postgres://app:hunter2@db:5432/app\" password=hunter2 err=\"dial tcp 10.0.0.5:5432: connect: connection refused\"";
        let m = best(line).expect("a match");
        assert!(!m.line.contains("hunter2"), "{}", m.line);
        assert!(m.line.contains("postgres://app:[REDACTED]@db:5432/app"), "{}", m.line);
        let url = "Failed to connect to RabbitMQ at amqp://guest:s3cr3t@rabbitmq:5672/";
        let m = one(url, "amqp-connect-error");
        assert!(!m.line.contains("s3cr3t") && m.detail.as_deref() == Some("rabbitmq:5672"), "{m:?}");
        let long = format!("{} dial tcp 10.1.2.3:443: i/o timeout {}", "x".repeat(500), "y".repeat(500));
        let m = one(&long, "go-dial-error");
        assert!(m.line.chars().count() <= MAX_LINE_CHARS, "{}", m.line.chars().count());
        assert!(m.line.contains("dial tcp 10.1.2.3:443: i/o timeout"), "{}", m.line);
        assert!(m.line.starts_with('…') && m.line.ends_with('…'));
        let multibyte = format!("{} open /data/é: permission denied {}", "é".repeat(400), "ü".repeat(400));
        let m = one(&multibyte, "path-permission-denied");
        assert!(m.line.contains("permission denied"));
    }

    #[test]
    fn entrypoint_paths_are_command_invalid_not_missing_files() {
        for (line, class) in [
            ("exec /app/bin/server: no such file or directory", Class::CommandInvalid),
            (
                "python: can't open file '/app/main.py': [Errno 2] No such file or directory",
                Class::CommandInvalid,
            ),
            ("Error: Cannot find module '/app/index.js'", Class::CommandInvalid),
            ("Error: Cannot find module 'express'", Class::AppError),
            ("fork/exec /usr/local/bin/helm: no such file or directory", Class::AppMissingFile),
            ("open /etc/app/config.yaml: no such file or directory", Class::AppMissingFile),
        ] {
            assert_eq!(best(line).map(|m| m.class), Some(class), "{line}");
        }
    }

    #[test]
    fn decisions_for_tls_and_db_auth() {
        assert_eq!(
            best("x509: certificate signed by unknown authority").map(|m| m.class),
            Some(Class::AppDependencyUnreachable)
        );
        assert_eq!(
            best("pq: password authentication failed for user \"app\"").map(|m| m.class),
            Some(Class::ConfigInvalidValue)
        );
        // Auth failure after a successful connection beats a generic refused seen earlier.
        let log = "connection refused\nFATAL: password authentication failed for user \"app\"\n";
        assert_eq!(best(log).map(|m| m.signature), Some("db-auth-failed"));
    }

    #[test]
    fn empty_and_plain_logs() {
        assert!(scan("").is_empty());
        assert!(best("hello\nworld\n").is_none());
    }

    #[test]
    fn normalization_preserves_length_and_lines() {
        let raw = "a\\\"b\\n\r\n\u{1b}[1;31mé\\u0041\\\\";
        let n = normalize(raw);
        assert_eq!(n.len(), raw.len());
        assert_eq!(n.matches('\n').count(), raw.matches('\n').count());
        assert!(n.contains('A') && n.contains('é'));
        assert!(matches!(normalize("plain line"), Cow::Borrowed(_)));
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a test measuring its own run time; not library code")]
    fn scans_a_large_log_quickly() {
        // 200 lines, ~64 KiB, the cause near the end: a generous bound that still catches a
        // pathological pattern (measured figures are far lower; see the module report).
        let mut log = String::new();
        for i in 0..198 {
            log.push_str(&format!(
                "2024-05-01T10:00:{:02}Z INFO request id={i} path=/api/v1/items/{i} status=200 took=3ms {}\n",
                i % 60,
                "k=v ".repeat(70)
            ));
        }
        log.push_str("ERROR dial tcp 10.0.0.5:5432: connect: connection refused\npanic: db down\n");
        assert!(log.len() > 60_000);
        let _ = scan(&log); // warm the LazyLock
        let t = std::time::Instant::now();
        let runs = 20;
        for _ in 0..runs {
            assert_eq!(best(&log).map(|m| m.signature), Some("go-dial-error"));
        }
        let per = t.elapsed() / runs;
        assert!(per < std::time::Duration::from_millis(50), "scan took {per:?}");
    }
}
