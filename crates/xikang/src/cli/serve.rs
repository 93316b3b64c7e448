//! `xikang serve` (and the serving half of `demo`): the address bound before anything
//! slow, the admin token and web user, the store and drill checks, then the server.

use super::*;

/// Makes sure the web user `admin` exists: with `--admin-password` it is created or its
/// password reset; otherwise it is created with a random password, which is returned to be
/// printed once. Returns `None` when nothing needs printing.
pub(super) fn ensure_admin_user(store: &dyn Store, args: &ServeArgs) -> Result<Option<String>> {
    let existing = store.user("admin")?;
    let (password, print) = match (&args.admin_password, &existing) {
        (Some(pw), _) => (pw.clone(), false),
        (None, Some(_)) => return Ok(None),
        (None, None) => (web::password::generate(), true),
    };
    let spec = web::admin::parse_user("admin", &password, "admin", &args.jurisdiction, "", "", "")
        .map_err(|(field, _, msg)| anyhow::anyhow!("admin user ({field}): {msg}"))?;
    let user = web::admin::user_of(&spec, &password, web::password::Cost::Standard, now())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    match existing {
        Some(_) => store.set_password_hash("admin", &user.password_hash)?,
        None => store.insert_user(&user)?,
    }
    Ok(print.then_some(password))
}

/// The runtime and the listening socket, made before anything slow so that a taken
/// address is reported at once.
pub(super) struct Bound {
    rt: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
}

impl Bound {
    pub(super) fn bind(listen: &str) -> Result<Bound> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .with_context(|| {
                format!("listening on {listen} (is another server using it? choose another with --listen)")
            })?;
        Ok(Bound { rt, listener })
    }
}

/// The settings `serve` would run with, as `key = value` lines in the file's vocabulary;
/// secrets are shown as `<set>`.
pub(super) fn effective(args: &ServeArgs) -> Vec<(&'static str, String)> {
    let edge = args.edge.config();
    let secret = |v: &Option<String>| (if v.is_some() { "<set>" } else { "<unset>" }).to_owned();
    let path = |p: &Option<PathBuf>| {
        p.as_ref().map_or("<unset>".into(), |p| {
            format!("{:?}", p.display().to_string())
        })
    };
    let rate = |r: Rate| format!("\"{}:{}\"", r.per_sec, r.burst);
    vec![
        ("listen", format!("{:?}", args.listen)),
        (
            "data",
            format!("{:?}", args.store.data.display().to_string()),
        ),
        ("database_url", secret(&args.store.database_url)),
        ("policy", path(&args.policy)),
        ("jurisdiction", format!("{:?}", args.jurisdiction)),
        ("admin_token", secret(&args.admin_token)),
        ("admin_password", secret(&args.admin_password)),
        ("behind_tls", args.behind_tls.to_string()),
        (
            "log_origin",
            args.log_origin
                .as_ref()
                .map_or("<default>".into(), |o| format!("{o:?}")),
        ),
        (
            "scan_upload_grace_secs",
            args.scan_upload_grace_secs.to_string(),
        ),
        ("metrics_token_file", path(&args.metrics_token_file)),
        ("peer_refresh_secs", args.peer_refresh_secs.to_string()),
        ("assist_retry_secs", args.assist_retry_secs.to_string()),
        ("key_reload_secs", args.key_reload_secs.to_string()),
        (
            "node_id",
            args.node_id
                .as_ref()
                .map_or("<unset>".into(), |n| format!("{n:?}")),
        ),
        ("role", format!("{:?}", args.role.as_str())),
        (
            "header_timeout_secs",
            edge.header_timeout.as_secs().to_string(),
        ),
        ("body_timeout_secs", edge.body_timeout.as_secs().to_string()),
        ("queue_wait_ms", edge.queue_wait.as_millis().to_string()),
        ("token_rate", rate(edge.token_rate)),
        ("address_rate", rate(edge.address_rate)),
        ("lookup_rate", rate(edge.lookup_rate)),
    ]
}

/// Who may read `/metrics`: the token in `--metrics-token-file` (its first line), else
/// loopback clients unless behind the TLS proxy.
pub(super) fn metrics_access(args: &ServeArgs) -> Result<xikang_server::metrics::MetricsAccess> {
    let token = match &args.metrics_token_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the metrics token file {}", f.display()))?;
            let line = text.lines().next().unwrap_or("").trim().to_owned();
            if line.len() < 16 {
                bail!(
                    "{}: the metrics token must be at least 16 characters",
                    f.display()
                );
            }
            Some(line)
        }
        None => None,
    };
    let access = xikang_server::metrics::MetricsAccess::new(token.as_deref(), args.behind_tls);
    if matches!(access, xikang_server::metrics::MetricsAccess::Closed) {
        tracing::warn!("/metrics is closed: behind the TLS proxy it needs --metrics-token-file");
    }
    Ok(access)
}

/// An admin API token for this start: the one supplied (never printed), else the store's
/// newest active token named `admin` (not re-minted at every start; its secret was printed
/// when it was made), else a new one, printed once.
pub(super) enum AdminToken {
    Supplied,
    Existing { id: TokenId, expires_at: Timestamp },
    Minted(String),
}

/// An existing token is reused only if it has at least this long to live.
const ADMIN_TOKEN_MIN_LEFT: i64 = 3600;

pub(super) fn admin_token(
    store: &dyn Store,
    args: &ServeArgs,
    now: Timestamp,
) -> Result<(AdminToken, TokenId, Timestamp)> {
    if args.admin_token.is_none() {
        let existing = store
            .api_tokens()?
            .into_iter()
            .filter(|t| {
                t.token.name == "admin"
                    && t.token.role == Role::Admin.as_str()
                    && t.revoked_at.is_none()
                    && now.plus(ADMIN_TOKEN_MIN_LEFT) < t.token.expires_at
            })
            .max_by_key(|t| t.token.expires_at);
        if let Some(t) = existing {
            return Ok((
                AdminToken::Existing {
                    id: t.id,
                    expires_at: t.token.expires_at,
                },
                t.id,
                t.token.expires_at,
            ));
        }
    }
    let (secret, supplied) = match &args.admin_token {
        Some(t) => (t.clone(), true),
        None => (xikang_server::auth::new_token(), false),
    };
    let expires_at = now.plus(Role::Admin.token_lifetime().default);
    let id = store.put_api_token(
        token_digest(&secret),
        &ApiToken {
            name: "admin".into(),
            role: "admin".into(),
            area: AreaCode::parse(&args.jurisdiction)?,
            venue: None,
            person: None,
            id_lookup: true,
            enterprise: None,
            created_at: now,
            expires_at,
        },
    )?;
    if store
        .api_token(&token_digest(&secret))?
        .is_some_and(|t| t.revoked_at.is_some())
    {
        anyhow::bail!("the admin token given ({id}) was revoked: give another");
    }
    let token = if supplied {
        AdminToken::Supplied
    } else {
        AdminToken::Minted(secret)
    };
    Ok((token, id, expires_at))
}

/// How to name the store on a command line, for the hints printed at start.
pub(super) fn store_flag(args: &ServeArgs) -> String {
    match &args.store.database_url {
        Some(_) => "--database-url \"$XIKANG_DATABASE_URL\"".into(),
        None => format!("--data {}", args.store.data.display()),
    }
}

pub(super) fn serve(
    args: &ServeArgs,
    store: Option<Arc<dyn Store>>,
    bound: Bound,
) -> Result<ExitCode> {
    let store = match store {
        Some(s) => s,
        None => args.store.open_existing(args.create)?,
    };
    if args.drill && !xikang_server::drill::is_drill() {
        let start = match &args.drill_start {
            Some(t) => Timestamp::parse_rfc3339(t)
                .map_err(|e| anyhow::anyhow!("--drill-start {t:?}: {e}"))?,
            None => now(),
        };
        xikang_server::drill::start(start).map_err(anyhow::Error::msg)?;
    }
    xikang_server::drill::check_store(store.as_ref(), args.drill).map_err(anyhow::Error::msg)?;
    let text = match &args.policy {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        None => xikang_domain::policy::DEFAULT_POLICY_TOML.to_owned(),
    };
    let policy = Policy::parse(&text).map_err(|e| anyhow::anyhow!("policy file: {e}"))?;
    let policy_sha = xikang_server::state::policy_sha256(&text);
    let started_at = now();
    // A token supplied by flag or environment is never printed (it is in the operator's
    // shell history or secret store already); one made here is printed once.
    let (admin, admin_id, admin_expires) = admin_token(store.as_ref(), args, started_at)?;
    if let Some(origin) = args
        .log_origin
        .as_ref()
        .filter(|o| !xikang_code::note::valid_key_name(o))
    {
        bail!("--log-origin {origin:?}: it must be non-empty, without spaces or '+'");
    }
    let admin_password = ensure_admin_user(store.as_ref(), args)?;
    let config = ServerConfig {
        jurisdiction: args.jurisdiction.clone(),
        policy_text: Some(std::sync::Arc::from(text.as_str())),
        behind_tls: args.behind_tls,
        scan_upload_grace_secs: args.scan_upload_grace_secs,
        edge: args.edge.config(),
        log_origin: args.log_origin.clone(),
        peer_refresh_secs: args.peer_refresh_secs,
        assist_retry_secs: args.assist_retry_secs,
        key_reload_secs: args.key_reload_secs,
        metrics_access: metrics_access(args)?,
        // Claim codes (docs/claim.md) go to a file beside the data: the demo's SMS gateway.
        messages: Some(std::sync::Arc::new(
            xikang_server::message::FileOutbox::new(
                args.store.data.join(xikang_server::message::OUTBOX_FILE),
            ),
        )),
        node: xikang_server::app::node::NodeConfig {
            id: args.node_id.clone(),
            role: args.role,
            ..Default::default()
        },
        // Inspection photos, content-addressed beside the data (docs/citizens.md).
        photo_dir: Some(args.store.data.join(xikang_server::board::photos::DIR)),
        ..ServerConfig::default()
    };
    let started = std::time::Instant::now();
    let state = Arc::new(
        AppState::load(store, config, policy, &policy_sha, now())
            .context("loading state from the store")?,
    );
    let people = xikang_server::state::read(&state.projection.people).len();
    tracing::info!(
        people,
        venues = state.projection.venues.list.len(),
        secs = started.elapsed().as_secs_f64(),
        "state loaded"
    );
    let Bound { rt, listener } = bound;
    let store_flag = store_flag(args);
    rt.block_on(async move {
        let addr = listener.local_addr()?;
        // Before the greeting: whoever reads it may signal at once.
        let shutdown = xikang_server::shutdown_signal();
        println!("xikang serving on http://{addr}/");
        let expires = admin_expires.to_shanghai_rfc3339();
        let shown = match &admin {
            AdminToken::Supplied => {
                println!("admin token {admin_id}: as supplied, expires {expires}");
                "$XIKANG_ADMIN_TOKEN".to_owned()
            }
            AdminToken::Minted(t) => {
                println!("admin token {admin_id}: {t} (expires {expires})");
                t.clone()
            }
            AdminToken::Existing { id, expires_at } => {
                println!(
                    "admin token {id}: made at an earlier start (printed then), expires {}; \
                     another: xikang token create {store_flag} --name admin --role admin",
                    expires_at.to_shanghai_rfc3339()
                );
                "<admin token>".to_owned()
            }
        };
        println!("web pages: http://{addr}/web/login");
        match &admin_password {
            Some(pw) => println!("web user admin created; password: {pw}"),
            None if args.admin_password.is_none() => println!(
                "web user admin exists (its password was printed at the first start); \
                 to reset it, start with --admin-password NEW (or XIKANG_ADMIN_PASSWORD)"
            ),
            None => {}
        }
        println!(
            "try: curl -H \"authorization: Bearer {shown}\" http://{addr}/api/v1/people/P1/code"
        );
        xikang_server::serve(listener, state, shutdown)
            .await
            .context("serving")?;
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
