//! Credential redaction for any log or event text shown in output: replaces the secret part of
//! passwords, tokens, keys and signed URLs with `[REDACTED]` and keeps the key, so the line stays
//! readable. Pure: no I/O.
//!
//! What is redacted:
//! - PEM private-key blocks (`-----BEGIN ... PRIVATE KEY-----` … `-----END ... PRIVATE KEY-----`,
//!   PGP's `PRIVATE KEY BLOCK` too, also inside a service-account JSON's `"private_key"`; an
//!   unterminated block is redacted to the end of the text);
//! - tokens recognisable by shape, wherever they stand: JWTs (`eyJ….eyJ….…`), AWS access key ids
//!   (`AKIA…`, `ASIA…`) and Bedrock keys (`ABSK…`), GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`,
//!   `ghr_`, `github_pat_`), GitLab (`glpat-`, `gldt-`, `glrt-`…), Slack (`xox[abposre]-`,
//!   `xoxe.xoxp-`, app-level `xapp-`), Stripe (`sk_`/`rk_` + `live_`/`test_`/`prod_`, `whsec_`),
//!   Google API keys (`AIza…`), Anthropic (`sk-ant-`), OpenAI (`sk-proj-`, `sk-svcacct-`,
//!   `sk-admin-`, keys holding `T3BlbkFJ`), Hugging Face (`hf_`, `api_org_`), npm (`npm_`), PyPI
//!   (`pypi-Ag…`), Doppler (`dp.pt.`, `dp.st.`, `dp.ct.`…), SendGrid (`SG.….…`), Shopify
//!   (`shpat_`, `shpss_`, `shpca_`, `shppa_`), DigitalOcean (`dop_v1_`, `doo_v1_`, `dor_v1_`),
//!   HashiCorp Vault (`hvs.`, `hvb.`), Grafana (`glsa_`, `glc_`, `eyJrIjoi…`), Atlassian
//!   (`ATATT3…`, `ATCTT3…`), Databricks (`dapi…`), Mailchimp (`…-us12`), Square (`sq0atp-`,
//!   `sq0csp-`, `EAAA…`), Postman (`PMAK-`), Linear (`lin_api_`), Age (`AGE-SECRET-KEY-1…`),
//!   Sentry (`sntrys_`, `sntryu_`), Notion (`ntn_`), Sourcegraph (`sgp_`), 1Password (`ops_eyJ`),
//!   Fly.io (`fo1_`, `fm2_`), Heroku (`HRKU-AA`), Perplexity (`pplx-`), OpenShift (`sha256~`),
//!   SonarQube (`squ_`, `sqp_`, `sqa_`), Infracost (`ico-`) and Azure AD client secrets (the
//!   `…8Q~…` shape); shapes that a word could take are redacted only when they hold a digit and a
//!   letter: OpenAI's older `sk-` + 32 or more letters and digits, Twilio API keys (`SK` + 32),
//!   Mailgun (`key-` + 32) and Discord bot tokens (`M….….…`);
//! - the secret path of webhook URLs: Slack (`hooks.slack.com/services|workflows|triggers/…`),
//!   Discord (`discord.com/api/webhooks/…`, `discordapp.com`), Microsoft Teams
//!   (`….webhook.office.com/webhookb2/…`, `outlook.office.com/webhook/…`);
//! - the password of credentials in URLs (`scheme://user:pass@host` → `scheme://user:[REDACTED]@host`;
//!   a password holding `@` is redacted up to the last `@` before the host) and secret-looking
//!   query parameters (`?token=`, `&sig=`, `?pass=`, `?pw=`, `?passwd=`, `X-Amz-Signature=`,
//!   `X-Amz-Credential=`…);
//! - `Authorization:` header values (`Bearer`/`Basic`/`Token`/`Api-Token`… schemes kept) and bare
//!   `Bearer <credential>`;
//! - values of secret keys in `key=value`, `key: value`, `key := value`, `key ?= value`,
//!   `"key":"value"`, `'key': 'value'`, `key => "value"` and `--key value` forms, where the key
//!   ends with password, passwd, pwd, passphrase, secret, token, api_key/apikey, private_key,
//!   access_key, secret_key, account_key, signature, credential(s), authorization, auth_token,
//!   session_id, cookie, `_pass` or `.pass` (any prefix, any case, camelCase included:
//!   `DB_PASSWORD`, `clientSecret`, `spring.datasource.password`, `PGPASSWORD`, `MYSQL_PWD`, and
//!   Azure connection strings' `AccountKey=`, `SharedAccessKey=`, `SharedAccessSignature=`); in
//!   Go's `%+v` structs and `%v` maps too (`{User:app Password:hunter2}`, `map[token:abc]`);
//! - passwords given on the command line to known clients in their own short forms: mysql-family
//!   `-pSECRET` (glued only: `-p value` prompts), `redis-cli -a x`/`--pass x`, `curl -u user:pass`
//!   (`--user`, `-U`, `--proxy-user`), `sshpass -p x`, `docker|podman|… login -p x`,
//!   `helm registry login -p x`, `mongo…`/`mongosh -p x`, `sqlcmd`/`bcp -P x`, openssl
//!   `-passin|-passout|-pass pass:x`, keytool `-storepass|-keypass x`;
//! - env-var pairs in JSON (`{"name":"DB_PASSWORD","value":"…"}`) and YAML (`name:`/`value:`), and
//!   .NET settings (`<add key="DbPassword" value="…"/>`).
//!
//! What is kept, so ordinary text stays readable: prose such as `token expired` or
//! `password authentication failed for user "app"` (no separator, no secret); placeholders
//! (`${DB_PASSWORD}`, `<set to the key 'password' in secret 'db'>`); booleans and `YES`/`NO`
//! (`(using password: YES)`); already-masked values; `-p` as a port or a prompt (`psql -p 5432`,
//! `ssh -p 2222`, `docker run -p 8080:80`, `mysql -u root -p shop`); image digests (`sha256:…`),
//! UIDs, commit hashes, metric names and object names (`my-secret-token-abc12`). A `key: value`
//! pair in the middle of prose (`invalid token: expired`) is redacted only when the value looks
//! like a credential (≥ 6 characters with a digit, a symbol, or an inner capital); at the start
//! of a line, after `{`, `,`, `;`, `(`, `[` or `|` (YAML, headers, structured fields), or glued
//! inside braces (Go structs) it is always redacted.
//!
//! Cost: one scan of a [`RegexSet`] of all the rules tells which rules can match; a line that
//! matches none (most log lines) is returned borrowed after that one scan, and only the rules
//! that matched run on the others.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

/// The replacement text for a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A PEM private-key block (PGP's `PRIVATE KEY BLOCK` included); an unterminated one runs to
/// the end of the text.
const PEM: &str = concat!(
    r"(?s)(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(.*?)",
    r"(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
);

/// Tokens recognisable by their own shape, wherever they stand. The whole match is redacted,
/// except for the named groups: `mixed` (redacted only when it holds a digit and a letter, so
/// that words are kept), and the webhook and Azure groups (only the group is redacted).
const SHAPED: &str = concat!(
    r"\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
    r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b|\bABSK[A-Za-z0-9+/]{100,}={0,2}",
    r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b",
    r"|\bgl(?:pat|dt|ptt|rt|cbt|soat|ffct|imt|oas)-[A-Za-z0-9_-]{20,}",
    r"|\bxox[abposre](?:\.xox[abposr])?-[A-Za-z0-9-]{10,}|\bxapp-[0-9]-[A-Za-z0-9-]{10,}",
    r"|\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9+/=]{24,}",
    r"|\bAIza[0-9A-Za-z_-]{35}",
    r"|\bsk-ant-[a-z]+[0-9]{2}-[A-Za-z0-9_-]{20,}",
    r"|\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]+",
    r"|\bhf_[A-Za-z0-9]{34}\b|\bapi_org_[A-Za-z0-9]{34}\b",
    r"|\bnpm_[A-Za-z0-9]{36}\b|\bpypi-Ag[A-Za-z0-9_-]{50,}",
    r"|\bdp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,}",
    r"|\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,}",
    r"|\bshp(?:at|ss|ca|pa)_[A-Fa-f0-9]{32}\b|\bdo[opr]_v1_[a-f0-9]{64}\b",
    r"|\bhv[sb]\.[A-Za-z0-9_-]{20,}",
    r"|\bglsa_[A-Za-z0-9_]{32,}|\bglc_[A-Za-z0-9+/]{32,}={0,2}|\beyJrIjoi[A-Za-z0-9+/]{40,}={0,2}",
    r"|\bAT[AC]TT3[A-Za-z0-9_=-]{20,}|\bdapi[a-f0-9]{32}(?:-[0-9]+)?\b",
    r"|\bsq0(?:atp|csp)-[A-Za-z0-9_-]{22,}|\bEAAA[A-Za-z0-9_=-]{40,}",
    r"|\bPMAK-[A-Za-z0-9-]{30,}|\blin_api_[A-Za-z0-9]{40}\b|\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b",
    r"|\bsntry[su]_[A-Za-z0-9+/=_]{40,}|\bntn_[0-9]{11}[A-Za-z0-9]{35}\b|\bsgp_(?:local_)?[A-Za-z0-9_]{40,}",
    r"|\bops_eyJ[A-Za-z0-9+/]{100,}={0,3}|\bfo1_[A-Za-z0-9_-]{43}|\bfm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}",
    r"|\bHRKU-AA[A-Za-z0-9_-]{58}|\bpplx-[A-Za-z0-9]{48}\b|\bsha256~[A-Za-z0-9_-]{43}",
    r"|\bsq[apu]_[A-Za-z0-9]{40}\b|\bico-[A-Za-z0-9]{32}\b|\b[0-9a-f]{32}-us[0-9]{1,2}\b",
    r"|(?P<mixed>\bsk-[A-Za-z0-9]{32,}\b|\bSK[0-9a-z]{32}\b|\bkey-[0-9a-z]{32}\b",
    r"|\b[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}\b)",
    r"|hooks\.slack\.com/(?:services|workflows|triggers)/(?P<slack>[A-Za-z0-9/]{10,})",
    r"|discord(?:app)?\.com/api/webhooks/(?P<discord>[0-9]{17,20}/[A-Za-z0-9_-]{20,})",
    r"|(?:\.webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/(?P<teams>[A-Za-z0-9@/_-]{20,})",
    r"|(?:^|[^A-Za-z0-9_~.-])(?P<azure>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:$|[^A-Za-z0-9_~.-])",
);

/// The password of URL credentials, up to the last `@` before the host (`p@ss@host`).
const URL_CREDENTIALS: &str = r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/?#@"'<>]*:(?P<v>[^\s/?#"'<>]+)@"#;

const QUERY: &str = concat!(
    r"(?i)[?&;](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token",
    r"|x-goog-signature|x-goog-credential|token|access_token|id_token|refresh_token|api_key|apikey",
    r#"|key|code|password|passwd|pass|pwd|pw|secret|client_secret|auth)=(?P<v>[^&;\s"'#]+)"#,
);

const AUTHORIZATION: &str = concat!(
    r#"(?i)(?:\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?"#,
    r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|api-key|api-token|key|sso-key|ssws|splunk",
    r"|aws4-hmac-sha256)\s+)?",
    r"|\b(?:bearer|basic)\s+)(?P<v>[A-Za-z0-9._~+/=-]{6,})",
);

const KEY_VALUE: &str = concat!(
    r"(?i)(?P<key>\b[A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|token|api[_.-]?key|apikey",
    r"|private[_.-]?key|access[_.-]?key|secret[_.-]?key|account[_.-]?key|signature|credentials?",
    r#"|authorization|auth[_.-]?token|session[_.-]?id|cookie|[_.]pass))(?P<kq>\\?["'])?"#,
    r"\s*(?P<sep>:{1,3}=|\?=|:|=>?)\s*",
    r#"(?:(?P<vq>\\?["'])(?P<qv>[^"'\\\n]*)|(?P<uv>[^\s"'`,;&)}\]<>]+))"#,
);

const FLAG: &str = concat!(
    r"(?i)(?:^|\s)--?(?:[a-z0-9]+-)*(?:password|passwd|token|secret|api-key|apikey|private-key",
    r"|access-key|secret-key)\s+(?P<v>[^\s-]\S*)",
);

/// Passwords given to known command-line clients in their own short forms (case-sensitive:
/// `-p` is a port for most other tools, and for mysql `-p value` prompts and names a database).
/// A value may be quoted; the quotes are kept.
const CLI: &str = concat!(
    r"\b(?:mysql(?:admin|dump|import|check|show|pump|slap)?|mariadb(?:-admin|-dump)?)(?:\s[^\n|;&]*?)??",
    r#"\s-p(?P<mysql>'[^'\n]*'|"[^"\n]*"|[^\s'"]+)"#,
    r"|\bredis-cli(?:\s[^\n|;&]*?)??\s(?:-a|--pass)\s+",
    r#"(?P<redis>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
    r#"|\bcurl(?:\s[^\n|;&]*?)??\s(?:-u|--user|-U|--proxy-user)(?:\s+|=)?['"]?[^\s:'"]*['"]?:"#,
    r#"(?P<curl>'[^'\n]*'|"[^"\n]*"|[^\s'"]+)"#,
    r#"|\bsshpass(?:\s[^\n|;&]*?)??\s-p\s*(?P<sshpass>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
    r"|\b(?:(?:docker|podman|nerdctl|buildah|skopeo|oras|crane)\s+login|helm\s+registry\s+login)",
    r#"(?:\s[^\n|;&]*?)??\s-p\s+(?P<login>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
    r"|\bmongo(?:sh|dump|restore|export|import|stat|top|files)?(?:\s[^\n|;&]*?)??\s-p\s+",
    r#"(?P<mongo>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
    r#"|\b(?:sqlcmd|bcp|osql)(?:\s[^\n|;&]*?)??\s-P\s*(?P<sqlcmd>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
    r"|\s-pass(?:in|out)?\s+pass:(?P<openssl>\S+)",
    r#"|\s-(?:src|dest)?(?:store|key)pass\s+(?P<keytool>'[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#,
);

/// The value paired with a secret-named entry: Kubernetes env in JSON and YAML, and .NET
/// `<add key="…Password" value="…"/>` settings.
const ENV: &str = concat!(
    r#"(?i)\\?"name\\?"\s*:\s*\\?"[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY"#,
    r#"|ACCESS_?KEY|CREDENTIALS?)\\?"\s*,\s*\\?"value\\?"\s*:\s*\\?"(?P<json>[^"\\]+)"#,
    r"|name:\s*[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY",
    r#"|CREDENTIALS?)["']?[ \t]*\r?\n[ \t]*value:[ \t]*["']?(?P<yaml>[^\s"']+)"#,
    r#"|\bkey\s*=\s*\\?"[A-Za-z0-9_.:-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY"#,
    r#"|CREDENTIALS?|CONNECTIONSTRING)\\?"\s+value\s*=\s*\\?"(?P<xml>[^"\\]+)"#,
);

/// Chooses the range of a rule's match to replace (absolute offsets into the text), if any.
type Pick = fn(&Captures<'_>, &str) -> Option<Range<usize>>;

/// The rules in the order they are applied, each with what it redacts of a match.
const TABLE: [(&str, Pick); 9] = [
    (PEM, pem_secret),
    (SHAPED, shaped_secret),
    (URL_CREDENTIALS, value_secret),
    (QUERY, value_secret),
    (AUTHORIZATION, authorization_secret),
    (KEY_VALUE, key_value_secret),
    (FLAG, value_secret),
    (CLI, cli_secret),
    (ENV, env_secret),
];

/// The compiled rules; `set` holds the same patterns, so that one scan tells which rules can
/// match at all (most lines: none).
struct Rules {
    set: RegexSet,
    rules: Vec<(Regex, Pick)>,
}

// The patterns are literals checked by the tests below: compiling them cannot fail at run time.
#[allow(clippy::expect_used)]
static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let patterns: Vec<String> = TABLE.iter().map(|(p, _)| ascii_pattern(p)).collect();
    Rules {
        set: RegexSet::new(&patterns).expect("redaction patterns are valid literals"),
        rules: patterns
            .iter()
            .zip(TABLE)
            .map(|(p, (_, pick))| (Regex::new(p).expect("redaction pattern is a valid literal"), pick))
            .collect(),
    }
});

/// Rewrites `\b`, `\w` and `\d` in a pattern to their ASCII forms. Unicode word boundaries make
/// the lazy DFA give up on any non-ASCII input (falling back to a far slower engine), and the
/// Unicode classes make compilation slow; log keywords, hosts, paths and identifiers are ASCII.
pub(crate) fn ascii_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('d') => out.push_str("[0-9]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Replaces the secret parts of `text` with `[REDACTED]`; `Cow::Borrowed` when nothing was
/// redacted. Idempotent: redacting twice gives the same text.
pub fn redact(text: &str) -> Cow<'_, str> {
    let r = &*RULES;
    let hits = r.set.matches(text);
    if !hits.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for (i, (re, pick)) in r.rules.iter().enumerate() {
        if hits.matched(i) {
            out = replace(out, re, *pick);
        }
    }
    out
}

/// The body of a PEM block, between its BEGIN and END lines.
fn pem_secret(c: &Captures<'_>, _hay: &str) -> Option<Range<usize>> {
    c.get(2).map(|m| m.range()).filter(|g| !g.is_empty())
}

/// The `v` group of a match.
fn value_secret(c: &Captures<'_>, _hay: &str) -> Option<Range<usize>> {
    secret_group(c, "v")
}

/// The password of a command-line client.
fn cli_secret(c: &Captures<'_>, hay: &str) -> Option<Range<usize>> {
    first_group(
        c,
        hay,
        &["mysql", "redis", "curl", "sshpass", "login", "mongo", "sqlcmd", "openssl", "keytool"],
    )
}

/// The value of a secret-named env or settings entry.
fn env_secret(c: &Captures<'_>, hay: &str) -> Option<Range<usize>> {
    first_group(c, hay, &["json", "yaml", "xml"])
}

/// Decides what to redact in a shaped-token match.
fn shaped_secret(c: &Captures<'_>, _hay: &str) -> Option<Range<usize>> {
    if let Some(m) = c.name("mixed") {
        let v = m.as_str();
        let digit = v.bytes().any(|b| b.is_ascii_digit());
        let letter = v.bytes().any(|b| b.is_ascii_alphabetic());
        return (digit && letter).then(|| m.range());
    }
    ["slack", "discord", "teams", "azure"]
        .iter()
        .find_map(|g| c.name(g))
        .or_else(|| c.get(0))
        .map(|m| m.range())
}

/// Decides what to redact in an `Authorization:` or bare `Bearer` match.
fn authorization_secret(c: &Captures<'_>, hay: &str) -> Option<Range<usize>> {
    let whole = c.get(0)?;
    let value = c.name("v")?;
    let header = whole.as_str().get(..4).is_some_and(|p| p.eq_ignore_ascii_case("auth"));
    let v = value.as_str();
    if exempt(v) || is_scheme(v) || hay[value.end()..].starts_with(REDACTED) {
        return None;
    }
    (header || looks_secret(v)).then(|| value.range())
}

/// The first of the named groups that took part in the match, without its quotes, unless
/// its value is exempt.
fn first_group(c: &Captures<'_>, hay: &str, names: &[&str]) -> Option<Range<usize>> {
    let m = names.iter().find_map(|g| c.name(g))?;
    let mut range = m.range();
    let bytes = m.as_str().as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'\'' | b'"') && bytes[bytes.len() - 1] == bytes[0] {
        range = range.start + 1..range.end - 1;
    }
    (!exempt(&hay[range.clone()])).then_some(range)
}

/// The range of group `name` unless its value is exempt (placeholder, boolean, already masked).
fn secret_group(c: &Captures<'_>, name: &str) -> Option<Range<usize>> {
    c.name(name).filter(|m| !exempt(m.as_str())).map(|m| m.range())
}

/// Decides what to redact in a `key <sep> value` match.
fn key_value_secret(c: &Captures<'_>, hay: &str) -> Option<Range<usize>> {
    let key = c.name("key")?;
    let (value, quoted) = match (c.name("qv"), c.name("uv")) {
        (Some(q), _) => (q, true),
        (None, Some(u)) => (u, false),
        (None, None) => return None,
    };
    let v = value.as_str();
    if exempt(v) || v.contains(REDACTED) {
        return None;
    }
    let key_lower = key.as_str().to_ascii_lowercase();
    if key_lower == "pwd" && v.starts_with('/') {
        return None; // the shell's working directory, not a password
    }
    if key_lower.ends_with("authorization") && is_scheme(v) {
        return None; // the scheme; the credential after it is handled by the authorization rule
    }
    if key_lower.ends_with("cookie") {
        // A cookie header carries several `name=value` pairs: redact up to the end of the value.
        let rest = &hay[value.start()..];
        let end = rest.find(['\n', '"', '\'']).map_or(hay.len(), |i| value.start() + i);
        return Some(value.start()..end);
    }
    let sep = c.name("sep")?;
    let colon = sep.as_str() == ":";
    let key_quoted = c.name("kq").is_some();
    // Go's `%+v` (`{User:app Password:hunter2}`) and `%v` of a map (`map[password:hunter2]`):
    // key, colon and value glued together inside braces.
    let go_struct = colon && !key_quoted && sep.start() == key.end() && value.start() == sep.end() && {
        let line = hay[..key.start()].rsplit('\n').next().unwrap_or_default();
        line.contains('{') || line.contains("map[")
    };
    if colon
        && !quoted
        && !key_quoted
        && !go_struct
        && !structural_position(hay, key.start())
        && !looks_secret(v)
    {
        return None; // `invalid token: expired` — prose, not a credential
    }
    Some(value.range())
}

/// Whether the key at `start` begins a line or follows a structural delimiter (YAML, headers,
/// maps), rather than sitting in the middle of a sentence.
fn structural_position(hay: &str, start: usize) -> bool {
    let before = &hay[..start];
    let line = before.rsplit('\n').next().unwrap_or(before);
    let trimmed = line.trim_end();
    if trimmed.trim_start_matches([' ', '\t', '-', '#']).is_empty() {
        return true;
    }
    trimmed.ends_with(['{', ',', ';', '(', '[', '|'])
}

/// An HTTP authorization scheme name (kept: the credential follows it).
fn is_scheme(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "bearer"
            | "basic"
            | "token"
            | "digest"
            | "negotiate"
            | "ntlm"
            | "apikey"
            | "api-key"
            | "api-token"
            | "key"
            | "sso-key"
            | "ssws"
            | "splunk"
            | "aws4-hmac-sha256"
    )
}

/// A value that looks like a credential rather than a word: at least 6 characters and a digit,
/// a symbol, or a capital letter after the first character.
fn looks_secret(v: &str) -> bool {
    v.chars().count() >= 6
        && (v.chars().any(|ch| ch.is_ascii_digit() || "!@#$%^&*+/=~_-.".contains(ch))
            || v.chars().skip(1).any(|ch| ch.is_ascii_uppercase()))
}

/// Values that are not secrets: empty, booleans, placeholders, already masked.
fn exempt(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() || t == REDACTED || t.chars().all(|ch| ch == '*') {
        return true;
    }
    if t.starts_with("${") || t.starts_with("$(") || t.starts_with("{{") || t.starts_with('<') {
        return true;
    }
    matches!(
        t.to_ascii_lowercase().as_str(),
        "null"
            | "nil"
            | "none"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "redacted"
            | "[redacted]"
            | "masked"
            | "hidden"
            | "undefined"
            | "empty"
            | "n/a"
            | "-"
    )
}

/// Applies `re` to `text`, replacing the range chosen by `pick` (absolute offsets into the
/// text) in each match with `[REDACTED]`. Returns the input unchanged (no allocation) when
/// `pick` chose nothing.
fn replace<'a>(text: Cow<'a, str>, re: &Regex, pick: Pick) -> Cow<'a, str> {
    let mut out: Option<String> = None;
    let mut last = 0;
    {
        let s: &str = &text;
        for caps in re.captures_iter(s) {
            let Some(range) = pick(&caps, s) else { continue };
            if range.start < last || range.end > s.len() || s[range.start..].starts_with(REDACTED) {
                continue;
            }
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            o.push_str(&s[last..range.start]);
            o.push_str(REDACTED);
            last = range.end;
        }
        if let Some(o) = out.as_mut() {
            o.push_str(&s[last..]);
        }
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => text,
    }
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
