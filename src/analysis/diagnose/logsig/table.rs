//! The log-signature table of [`super`]: every pattern, the class it implies, its priority and
//! the real-looking lines it must match. Data, no logic; the engine is in `mod.rs`, the tests in
//! `tests.rs`. A data table, so it is exempt from the file-length rule.

use super::{BASE, Detail, Signature};
use crate::analysis::diagnose::class::Class::*;

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

pub(super) static SIGNATURES: &[Signature] = &[
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
            r"|(?:missing|required|undefined|unset)\s+(?:or\s+invalid\s+)?(?:(?:required|mandatory)\s+)?env(?:ironment)?[\s_-]*var(?:iable)?s?\b(?:\s*(?:named\s+)?[:=]?\s*",
            var!("d5", "d6"),
            r")?",
            r"|required\s+key\s+(?P<d7>[A-Za-z_][A-Za-z0-9_]*)\s+missing\s+value",
            r"|set\s+(?:the\s+)?",
            var!("d8", "d9"),
            r"\s+env(?:ironment)?(?:\s*var(?:iable)?)?",
            r"|(?-i:(?P<d10>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+))\s+(?:must\s+be\s+(?:set|provided|defined)|is\s+(?:not\s+set|unset|required|missing|empty|undefined)|is\s+a\s+required\s+(?:env(?:ironment)?\s+)?variable|not\s+set|cannot\s+be\s+empty|must\s+not\s+be\s+empty)",
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
            "Error: Missing or invalid env vars: NANGO_CONNECT_UI_PORT (invalid_type Invalid input: expected number, received NaN)",
            r#"time="2018-10-22T20:59:21Z" level=error msg="SYRINGE_TIER is a required variable.""#,
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
        pattern: r#"(?i)(?:forbidden:\s*User\s+"(?P<user>[^"]+)"\s+cannot\s+(?P<verb>[a-z]+)\s+(?:(?:resource|path)\s+)?(?:"(?P<res>[^"]+)"|(?P<res2>[a-z0-9.-]+(?:/[a-z]+)?))(?:\s+in\s+API\s+group\s+"(?P<group>[^"]*)")?(?:\s+in\s+the\s+namespace\s+"(?P<ns>[^"]+)"|\s+at\s+the\s+(?P<cluster>cluster\s+scope))?|Forbidden!\s*Configured service account doesn't have access|\bUser\s+"(?P<user2>system:[^"]+)"\s+cannot\s+(?P<verb2>[a-z]+)\s+(?:all\s+)?(?P<res3>[a-z0-9.-]+)\s+(?:in\s+the\s+namespace\s+"(?P<ns2>[^"]+)"|(?P<cluster2>in\s+the\s+cluster)))"#,
        examples: &[
            r#"pods is forbidden: User "system:serviceaccount:shop:checkout" cannot list resource "pods" in API group "" in the namespace "shop""#,
            r#"Failed to list *v1.Service: User "system:serviceaccount:monitoring:default" cannot list all services in the cluster"#,
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
        pattern: r"(?i)(?:listen\s+(?:tcp|udp)[46]?\s+(?P<d>\S*?):\s*bind:\s*address already in use|EADDRINUSE:?\s*(?:address already in use\s*)?(?P<d2>[\[\]\w.:]*:\d+)?|bind\(\)\s+to\s+(?P<d3>\S+)\s+failed\s+\(98:\s*Address (?:already )?in use\)|error while attempting to bind on address\s+\('[^']*',\s*(?P<d4>\d+)\):\s*address already in use|Port\s+(?P<d5>\d+)\s+(?:was|is)\s+already in use|\(98\)Address already in use:.*?could not bind to address\s+(?P<d6>\S+)|Failed to bind to address\s+(?P<d7>\S+?):?\s+address already in use|address already in use|Only one usage of each socket address)",
        examples: &[
            "listen tcp :8080: bind: address already in use",
            "Error: listen EADDRINUSE: address already in use :::3000",
            "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
            "nginx: [emerg] bind() to 0.0.0.0:25 failed (98: Address in use)",
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
        pattern: r#"(?i)(?:(?:open|stat|lstat|readlink|read|readdir|chdir|load|loading)\s+(?P<d>\.{0,2}/[^\s:]*|[\w.-]+\.(?:ya?ml|json|toml|conf|cfg|ini|properties|env|pem|crt|key|xml|txt|db|sqlite)):\s*no such file or directory|\[Errno 2\]\s*No such file or directory:\s*['"](?P<d2>[^'"]+)['"]|ENOENT:?\s*no such file or directory,?\s*\w+\s+['"](?P<d3>[^'"]+)['"]|java\.io\.FileNotFoundException:\s*(?P<d4>\S+)\s+\((?:No such file or directory|The system cannot find the (?:file|path) specified)\)|NoSuchFileException:\s*(?P<d5>\S+)|class path resource\s+\[(?P<d6>[^\]]+)\]\s+cannot be opened because it does not exist|Could not find (?:file|a part of the path)\s+'(?P<d7>[^']+)'|open\(\)\s+"(?P<d8>[^"]+)"\s+failed\s+\(2:\s*No such file or directory\)|dlopen\(\)\s+"(?P<d16>[^"]+)"\s+failed\s+\([^\n]*?No such file or directory|No such file or directory @ rb_sysopen - (?P<d9>\S+)|(?:^|\s)(?:cat|cp|ls|source|cd|chmod|chown|mv|tail|head|sed|grep)\s*:\s*(?:can't open\s*)?['‘"]?(?P<d10>[^\s'’":]+)['’"]?:\s*No such file or directory|(?P<d11>/[\w.@%+=-]+(?:/[\w.@%+=-]+)+)['"]?:\s*No such file or directory|NonExistentPath:\s*Data directory\s+(?P<d12>\S+)\s+not found|spawn\s+(?P<d13>\S+)\s+ENOENT|cannot load (?:certificate|certificate key)\s+"(?P<d15>[^"]+)"[^\n]*?No such file|(?:config(?:uration)? file|file|path)\s+['"]?(?P<d14>/[^\s'"]+)['"]?\s+(?:does not exist|not found))"#,
        examples: &[
            r#"nginx: [emerg] dlopen() "/etc/nginx/modules/ngx_http_js_module.so" failed (/etc/nginx/modules/ngx_http_js_module.so: cannot open shared object file: No such file or directory) in /etc/nginx/nginx.conf:1"#,
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
    Signature {
        id: "path-is-a-directory",
        class: AppMissingFile,
        priority: 72,
        detail: Detail::Path,
        description: "A path the app reads as a file is a directory (typically a ConfigMap/Secret volume mounted at the file's path instead of its directory).",
        pattern: r#"(?i)(?:read|open|load|loading)\s+['"]?(?P<d>/[^\s:'"]+)['"]?:\s*is a directory"#,
        examples: &[
            "read /etc/kubernetes/azure.json: is a directory",
            "error loading config: open /etc/app/config.yaml: is a directory",
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
        pattern: r#"(?i)(?:connection to server at\s+"(?P<d>[^"]+)"(?:\s+\([^)]*\))?,\s*port\s+(?P<p>\d+)\s+failed|could not translate host name\s+"(?P<d2>[^"]+)"\s+to address|could not connect to server:\s*(?:Connection refused|No such file or directory|Connection timed out|No route to host)|Is the server running on host\s+"(?P<d3>[^"]+)"|Connection to\s+(?P<d4>[\w.-]+:\d+)\s+refused)"#,
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
        id: "postgres-starting-up",
        class: AppDependencyUnreachable,
        priority: 50,
        detail: Detail::Label("PostgreSQL is starting up, shutting down or in recovery"),
        description: "PostgreSQL answers a connection while it starts, stops or recovers: a client met a server that was not ready yet (in the server's own log, a probe or client connecting during its start).",
        pattern: r"(?i)the database system is (?:starting up|shutting down|in recovery mode|not yet accepting connections)",
        examples: &[
            "FATAL:  the database system is starting up",
            "psycopg2.OperationalError: FATAL:  the database system is in recovery mode",
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
