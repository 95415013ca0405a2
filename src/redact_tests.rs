//! Tests of `redact.rs` (its sibling).

use super::*;

fn r(s: &str) -> String {
    redact(s).into_owned()
}

#[test]
fn patterns_compile() {
    let _ = &*RULES;
}

#[test]
fn ascii_pattern_rewrites_only_unicode_classes() {
    assert_eq!(ascii_pattern(r"\bx\w+\d[\w.]\s\\b"), r"(?-u:\b)x[0-9A-Za-z_]+[0-9][[0-9A-Za-z_].]\s\\b");
}

#[test]
fn non_ascii_text() {
    assert_eq!(r("café password=hunter2 ✓"), "café password=[REDACTED] ✓");
    assert!(matches!(redact("déjà vu — token expired"), Cow::Borrowed(_)));
}

#[test]
fn key_value_forms() {
    assert_eq!(r("password=hunter2 user=app"), "password=[REDACTED] user=app");
    assert_eq!(r("DB_PASSWORD=s3cr3t"), "DB_PASSWORD=[REDACTED]");
    assert_eq!(r("level=info token=abcdef msg=ok"), "level=info token=[REDACTED] msg=ok");
    assert_eq!(r(r#"{"user":"app","password":"hunter2"}"#), r#"{"user":"app","password":"[REDACTED]"}"#);
    assert_eq!(r(r#"{"api_key": "k-123 456"}"#), r#"{"api_key": "[REDACTED]"}"#);
    assert_eq!(r("{'client_secret': 'abc'}"), "{'client_secret': '[REDACTED]'}");
    assert_eq!(r("  password: changeme"), "  password: [REDACTED]");
    assert_eq!(r("spring.datasource.password=abc"), "spring.datasource.password=[REDACTED]");
    assert_eq!(r(r#"clientSecret="x y z""#), r#"clientSecret="[REDACTED]""#);
    assert_eq!(r("accessToken: Zm9vYmFy"), "accessToken: [REDACTED]");
    assert_eq!(r("refresh_token=r1&x=2"), "refresh_token=[REDACTED]&x=2");
    assert_eq!(r("private_key=MIIEvQ"), "private_key=[REDACTED]");
    assert_eq!(r("apikey=12345678"), "apikey=[REDACTED]");
    assert_eq!(r("Server=db;User Id=sa;Password=P@ss;"), "Server=db;User Id=sa;Password=[REDACTED];");
    assert_eq!(r(r#"params => {"secret" => "xyz"}"#), r#"params => {"secret" => "[REDACTED]"}"#);
    assert_eq!(r("--password hunter2 --user app"), "--password [REDACTED] --user app");
    assert_eq!(r("--db-token=abc"), "--db-token=[REDACTED]");
    assert_eq!(r("Cookie: session=abc; theme=dark"), "Cookie: [REDACTED]");
}

#[test]
fn json_escaped_inside_a_log_line() {
    let line = r#"{"msg":"config {\"password\":\"hunter2\",\"host\":\"db\"}"}"#;
    assert_eq!(r(line), r#"{"msg":"config {\"password\":\"[REDACTED]\",\"host\":\"db\"}"}"#);
}

#[test]
fn authorization_headers_and_bearer() {
    assert_eq!(r("Authorization: Bearer abc.def.ghi"), "Authorization: Bearer [REDACTED]");
    assert_eq!(r("authorization=Basic dXNlcjpwYXNz"), "authorization=Basic [REDACTED]");
    assert_eq!(r(r#""Authorization":"Token 0123abcd""#), r#""Authorization":"Token [REDACTED]""#);
    assert_eq!(r("Authorization: s3cr3tvalue"), "Authorization: [REDACTED]");
    assert_eq!(r("sending Bearer Zm9vYmFyYmF6 to api"), "sending Bearer [REDACTED] to api");
    let aws =
        r("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024/s3, Signature=abcdef0123");
    assert!(aws.starts_with("Authorization: AWS4-HMAC-SHA256 "), "{aws}");
    assert!(!aws.contains("AKIAIOSFODNN7EXAMPLE") && !aws.contains("abcdef0123"), "{aws}");
}

#[test]
fn urls_and_query_parameters() {
    assert_eq!(r("postgres://app:hunter2@db:5432/app"), "postgres://app:[REDACTED]@db:5432/app");
    assert_eq!(r("redis://:pa55@redis:6379/0"), "redis://:[REDACTED]@redis:6379/0");
    assert_eq!(r("amqp://guest:guest@rabbitmq:5672/"), "amqp://guest:[REDACTED]@rabbitmq:5672/");
    assert_eq!(
        r("GET https://x.blob.core.windows.net/c/b?sv=2020&sig=abc%2Bdef&se=2024"),
        "GET https://x.blob.core.windows.net/c/b?sv=2020&sig=[REDACTED]&se=2024"
    );
    assert_eq!(
        r("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAX%2F2024&X-Amz-Signature=0a1b2c"),
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]"
    );
    assert_eq!(r("https://api/x?token=abc&page=2"), "https://api/x?token=[REDACTED]&page=2");
    assert_eq!(r("https://maps.googleapis.com/x?key=abc123"), "https://maps.googleapis.com/x?key=[REDACTED]");
}

#[test]
fn token_shapes() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(r(&format!("token is {jwt} ok")), "token is [REDACTED] ok");
    assert_eq!(r("key id AKIAIOSFODNN7EXAMPLE used"), "key id [REDACTED] used");
    assert_eq!(r("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "push with [REDACTED]");
    assert_eq!(r(&format!("pat github_pat_{}", "A1".repeat(30))), "pat [REDACTED]");
    assert_eq!(r("slack xoxb-1234567890-abcdefghij"), "slack [REDACTED]");
    assert_eq!(
        r("POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX"),
        "POST https://hooks.slack.com/services/[REDACTED]"
    );
    assert_eq!(r("glpat-abcdefghijklmnopqrstu"), "[REDACTED]");
}

#[test]
fn pem_private_key_blocks() {
    let pem = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nnext";
    assert_eq!(r(pem), "key:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nnext");
    let escaped = r#"{"tls.key":"-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----"}"#;
    assert_eq!(r(escaped), r#"{"tls.key":"-----BEGIN PRIVATE KEY-----[REDACTED]-----END PRIVATE KEY-----"}"#);
    assert_eq!(r("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE"), "-----BEGIN EC PRIVATE KEY-----[REDACTED]");
    // Certificates are public.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    assert!(matches!(redact(cert), Cow::Borrowed(_)));
}

#[test]
fn env_pairs() {
    assert_eq!(
        r(r#"{"name":"DB_PASSWORD","value":"hunter2"}"#),
        r#"{"name":"DB_PASSWORD","value":"[REDACTED]"}"#
    );
    assert_eq!(r("- name: API_TOKEN\n  value: abc\n"), "- name: API_TOKEN\n  value: [REDACTED]\n");
}

#[test]
fn ordinary_text_is_untouched_and_borrowed() {
    for line in [
        "token expired",
        "Token expired, refreshing",
        r#"FATAL:  password authentication failed for user "app""#,
        "Access denied for user 'root'@'10.0.0.3' (using password: YES)",
        "invalid token: expired",
        "Bearer authentication failed",
        "Basic realm required",
        r#"secret "db-creds" not found"#,
        "couldn't find key password in Secret shop/db",
        "secretName: db-creds",
        "max_tokens=100 token_type=Bearer",
        "password_file=/run/secrets/db",
        "PWD=/app",
        "password: <set to the key 'password' in secret 'db'>",
        "password=${DB_PASSWORD}",
        "token: null",
        r#"Could not resolve placeholder 'DB_PASSWORD' in value "${DB_PASSWORD}""#,
        "postgres://db:5432/app",
        "ssh://git@github.com/org/repo",
        "listening on :8080",
        "2024-01-01T12:30:45Z GET /healthz?page=2 200",
        "You must specify POSTGRES_PASSWORD to a non-empty value",
        "user@example.com logged in",
        "password=[REDACTED]",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn idempotent() {
    for line in [
        "password=hunter2",
        "Authorization: Bearer abc.def.ghi",
        "postgres://app:hunter2@db/app",
        "https://x/y?sig=abc",
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
    ] {
        let once = r(line);
        assert_ne!(once, line);
        assert_eq!(r(&once), once, "{line}");
    }
}

#[test]
fn azure_connection_strings() {
    assert_eq!(
        r(
            "DefaultEndpointsProtocol=https;AccountName=logs;AccountKey=bG9n+c2/Vj==;EndpointSuffix=core.windows.net"
        ),
        "DefaultEndpointsProtocol=https;AccountName=logs;AccountKey=[REDACTED];EndpointSuffix=core.windows.net"
    );
    assert_eq!(
        r(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k3y+Ab="
        ),
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=[REDACTED]"
    );
    assert_eq!(
        r(
            "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=a%2Bb%3D"
        ),
        "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=[REDACTED]&ss=b&sig=[REDACTED]"
    );
    for line in [
        "DefaultEndpointsProtocol=https;AccountName=logs;EndpointSuffix=core.windows.net",
        "storage account key rotated for account logs",
        "SharedAccessKeyName=RootManageSharedAccessKey",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn command_line_credentials() {
    for (line, want) in [
        ("mysql -h db -uroot -pS3cret shop", "mysql -h db -uroot -p[REDACTED] shop"),
        ("mysqldump -u root -p'pa ss' shop", "mysqldump -u root -p'[REDACTED]' shop"),
        (r#"mariadb -u root -p"hunter2" -e 'SELECT 1'"#, r#"mariadb -u root -p"[REDACTED]" -e 'SELECT 1'"#),
        ("mysql --user=root --password=S3cret shop", "mysql --user=root --password=[REDACTED] shop"),
        ("mysqladmin --password S3cret status", "mysqladmin --password [REDACTED] status"),
        ("redis-cli -h redis -a s3cr3t PING", "redis-cli -h redis -a [REDACTED] PING"),
        (
            "redis-cli --no-auth-warning --pass s3cr3t INFO",
            "redis-cli --no-auth-warning --pass [REDACTED] INFO",
        ),
        ("curl -u admin:hunter2 https://x/api", "curl -u admin:[REDACTED] https://x/api"),
        ("curl -sS --user admin:hunter2 https://x/api", "curl -sS --user admin:[REDACTED] https://x/api"),
        ("curl -uadmin:hunter2 https://x/api", "curl -uadmin:[REDACTED] https://x/api"),
        ("PGPASSWORD=hunter2 psql -h db -p 5432 -U app", "PGPASSWORD=[REDACTED] psql -h db -p 5432 -U app"),
        ("MYSQL_PWD=hunter2 mysql -h db", "MYSQL_PWD=[REDACTED] mysql -h db"),
        ("sshpass -p hunter2 ssh -p 2222 deploy@host", "sshpass -p [REDACTED] ssh -p 2222 deploy@host"),
        (
            "docker login -u ci -p hunter2 registry.example.com",
            "docker login -u ci -p [REDACTED] registry.example.com",
        ),
        (
            "helm registry login r.example.com -u ci -p hunter2",
            "helm registry login r.example.com -u ci -p [REDACTED]",
        ),
        (
            "mongosh mongodb://db:27017 -u admin -p hunter2",
            "mongosh mongodb://db:27017 -u admin -p [REDACTED]",
        ),
        ("sqlcmd -S db -U sa -P Str0ng!Pass -Q 'SELECT 1'", "sqlcmd -S db -U sa -P [REDACTED] -Q 'SELECT 1'"),
        (
            "openssl pkcs12 -export -passout pass:hunter2 -out a.p12",
            "openssl pkcs12 -export -passout pass:[REDACTED] -out a.p12",
        ),
        (
            "keytool -importcert -keystore ks.jks -storepass changeit -noprompt",
            "keytool -importcert -keystore ks.jks -storepass [REDACTED] -noprompt",
        ),
    ] {
        assert_eq!(r(line), want, "{line}");
    }
    // `-p` is a port or a prompt for everything else; `-u user` alone prompts.
    for line in [
        "psql -h db -p 5432 -U app",
        "mysql -h db -P 3306 -u root -p shop",
        "mysql -u root -p",
        "ssh -p 2222 deploy@bastion",
        "docker run -d -p 8080:80 nginx",
        "redis-cli -h redis -p 6379 PING",
        "curl -u admin https://x/api",
        "curl -X POST -H 'Content-Type: application/json' https://x/api",
        "kubectl -n shop port-forward svc/web 8080:80",
        "openssl rsa -in key.pem -passin env:KEY_PASS",
        "mongosh --port 27017 --quiet",
        "sqlcmd -S db -U sa -Q 'SELECT 1'",
        "docker login registry.example.com --password-stdin",
        "docker run -d --name login -p 8080:80 shop/login",
        "Back-off restarting failed container mysql in pod mysql-0_db(0d4b1c6e)",
        "image mysql:8.0 started with -port=3306",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn url_passwords_holding_an_at_sign() {
    assert_eq!(r("postgres://user:p@ss@host/db"), "postgres://user:[REDACTED]@host/db");
    assert_eq!(
        r("mongodb+srv://app:p@ss:w0rd@cluster0.example.net/?retryWrites=true"),
        "mongodb+srv://app:[REDACTED]@cluster0.example.net/?retryWrites=true"
    );
    assert_eq!(
        r("redis://:p@ss@redis:6379/0 mailed admin@example.com"),
        "redis://:[REDACTED]@redis:6379/0 mailed admin@example.com"
    );
    for line in ["https://example.com/unsubscribe?email=a@b.com", "ssh://git@github.com:22/org/repo"] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn query_passwords() {
    assert_eq!(r("GET /login?user=app&pass=hunter2&next=/"), "GET /login?user=app&pass=[REDACTED]&next=/");
    assert_eq!(r("GET /api/status?pw=hunter2 200"), "GET /api/status?pw=[REDACTED] 200");
    assert_eq!(r("GET /cgi?passwd=hunter2&x=1"), "GET /cgi?passwd=[REDACTED]&x=1");
    assert!(matches!(redact("GET /trips?passenger=3&compass=north 200"), Cow::Borrowed(_)));
}

#[test]
fn go_structs_and_maps() {
    assert_eq!(
        r("config: {Username:app Password:hunter2 Host:db}"),
        "config: {Username:app Password:[REDACTED] Host:db}"
    );
    assert_eq!(r("opts=&{Name:db Token:abc Port:5432}"), "opts=&{Name:db Token:[REDACTED] Port:5432}");
    assert_eq!(r("map[password:changeme user:app]"), "map[password:[REDACTED] user:app]");
    assert_eq!(
        r("cfg {DB:{User:app DBPassword:s3cr3t} Redis:{Addr:redis:6379}}"),
        "cfg {DB:{User:app DBPassword:[REDACTED]} Redis:{Addr:redis:6379}}"
    );
    for line in [
        "config: {Host:db.shop.svc Port:5432 User:app SSLMode:disable}",
        "labels: map[app:web pod-template-hash:7d9c8b5f4]",
        "unexpected field PasswordFile in {Host:db Port:5432}",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn webhooks() {
    let discord = "123456789012345678/AbCdEf-gh_ijKLmnOPqrsTUVwxyz0123456789abcdEFGHijklMNOPqrstuvWXYZ01";
    assert_eq!(
        r(&format!("POST https://discord.com/api/webhooks/{discord} 204")),
        "POST https://discord.com/api/webhooks/[REDACTED] 204"
    );
    assert_eq!(
        r(&format!("https://discordapp.com/api/webhooks/{discord}")),
        "https://discordapp.com/api/webhooks/[REDACTED]"
    );
    assert_eq!(
        r(concat!(
            "teams: https://contoso.webhook.office.com/webhookb2/1a2b3c4d-1234-5678-9abc-def012345678",
            "@0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/IncomingWebhook/0123456789abcdef0123456789abcdef",
            "/9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0 failed"
        )),
        "teams: https://contoso.webhook.office.com/webhookb2/[REDACTED] failed"
    );
    assert_eq!(
        r("https://hooks.slack.com/workflows/T0123ABCD/A0123ABCD/123456789012345678/AbCdEfGhIjKlMnOp"),
        "https://hooks.slack.com/workflows/[REDACTED]"
    );
    assert_eq!(
        r("https://hooks.slack.com/triggers/T0123ABCD/123456789012/0123456789abcdef0123456789abcdef"),
        "https://hooks.slack.com/triggers/[REDACTED]"
    );
    for line in [
        "https://discord.com/channels/123456789012345678/123456789012345678",
        "posting to https://hooks.slack.com for receiver ops",
        "see https://contoso.webhook.office.com for the connector",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn token_prefixes() {
    let hex32 = "0123456789abcdef0123456789abcdef";
    let b62 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0";
    for token in [
        format!("xapp-1-A0123456789-1234567890123-{hex32}"),
        format!("sk_test_{b62}"),
        format!("rk_live_{b62}"),
        format!("rk_test_{b62}"),
        format!("whsec_{b62}"),
        format!("hf_{}", &b62[..34]),
        format!("sk-ant-api03-{b62}-{b62}"),
        format!("sk-proj-{b62}{b62}"),
        format!("sk-{b62}"),
        format!("npm_{}", &b62[..36]),
        format!("pypi-AgEIcHlwaS5vcmc{b62}{b62}"),
        format!("dp.pt.{b62}xyz"),
        format!("SG.{}.{}", &b62[..22], &b62[..40]),
        format!("SK{hex32}"),
        format!("shpat_{hex32}"),
        format!("shpss_{hex32}"),
        format!("dop_v1_{hex32}{hex32}"),
        format!("hvs.{b62}"),
        format!("hvb.{b62}"),
        format!("glsa_{}_{}", &b62[..32], &hex32[..8]),
        format!("glc_{b62}=="),
        format!("ATATT3xFfGF0{b62}"),
        format!("dapi{hex32}"),
        format!("key-{hex32}"),
        format!("sq0atp-{b62}"),
        format!("EAAA{b62}{b62}"),
        format!("PMAK-{}-{}", &hex32[..24], &b62[..34]),
        format!("lin_api_{b62}"),
        format!(
            "AGE-SECRET-KEY-1{}",
            "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".repeat(2).get(..58).unwrap_or_default()
        ),
        "xUP8Q~abcdefghijklmnopqrstuvwxyz01234.67".to_string(),
    ] {
        assert_eq!(r(&format!("using {token} now")), "using [REDACTED] now", "{token}");
    }
    for line in [
        "pip install scikit-learn sk-learn",
        "task-abcdefghijklmnopqrstuvwxyzabcdefgh done",
        "SKU1234 out of stock; SKIPPED 3 tests",
        "key-value store compaction: key-count=9123",
        "hf_hub_download finished; npm_config_cache=/tmp/npm",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "EAAA is not a token",
        "whsec_ prefix expected for webhook secrets",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
    }
}

#[test]
fn dotnet_settings_and_new_separators() {
    assert_eq!(
        r(r#"<add key="DbPassword" value="hunter2" />"#),
        r#"<add key="DbPassword" value="[REDACTED]" />"#
    );
    assert_eq!(r(r#"API_TOKEN := "abc123""#), r#"API_TOKEN := "[REDACTED]""#);
    assert_eq!(r("DB_PASS: hunter2"), "DB_PASS: [REDACTED]");
    assert!(matches!(redact(r#"<add key="LogLevel" value="Debug" />"#), Cow::Borrowed(_)));
    assert!(matches!(redact("tests pass: 12, bypass: off"), Cow::Borrowed(_)));
}

/// The readable words of a line: runs of letters of at least three, in a word's own case
/// (`level`, `Token`, `AUTH`), which a redaction must keep.
fn words(line: &str) -> Vec<&str> {
    line.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3)
        .filter(|w| {
            let rest = &w[1..];
            rest.bytes().all(|b| b.is_ascii_lowercase())
                || (w.len() <= 12 && w.bytes().all(|b| b.is_ascii_uppercase()))
        })
        .collect()
}

/// The rows of a fixture table: tab-separated columns, `#` comments and blank lines skipped.
fn table(text: &str, columns: usize) -> Vec<Vec<&str>> {
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.splitn(columns, '\t').collect::<Vec<_>>())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), columns, "row {row:?}");
    }
    rows
}

/// Published true-positive examples of secret scanners' rules, one a row, with the secret
/// that must disappear: gitleaks/gitleaks at b58d3f1 (cmd/generate/config/rules/*.go, the
/// rules' `tps`), trufflesecurity/trufflehog at 3ab759f (pkg/detectors/*/*_test.go) and
/// Yelp/detect-secrets at 5e14193 (tests/plugins/*_test.py); each row names its file and
/// rule, and the file's header the full commits. The rest of the line must stay readable, and redacting again
/// must change nothing.
#[test]
fn corpus() {
    let rows = table(include_str!("../tests/fixtures/secrets/corpus.tsv"), 4);
    assert!(rows.len() >= 100, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let (id, line, secret) = (row[0], row[2], row[3]);
        let out = redact(line);
        if out.contains(secret) {
            failures.push(format!("{id}: secret kept: {out}"));
            continue;
        }
        let rest = line.replace(secret, " ");
        let lost: Vec<&str> = words(&rest).into_iter().filter(|w| !out.contains(w)).collect();
        if !lost.is_empty() {
            failures.push(format!("{id}: words lost {lost:?}: {out}"));
        }
        if redact(&out) != out {
            failures.push(format!("{id}: not idempotent: {out}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

/// Ordinary log and config lines (kubelet, scheduler, application; digests, UIDs, commit
/// hashes, metric names, prose about tokens and passwords) come out unchanged.
#[test]
fn keep() {
    let rows = table(include_str!("../tests/fixtures/secrets/keep.tsv"), 3);
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let changed: Vec<String> = rows
        .iter()
        .filter(|row| !matches!(redact(row[2]), Cow::Borrowed(_)))
        .map(|row| format!("{}: {}", row[0], redact(row[2])))
        .collect();
    assert!(changed.is_empty(), "changed:\n{}", changed.join("\n"));
}
