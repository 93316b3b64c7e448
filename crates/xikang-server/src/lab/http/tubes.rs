//! Tubes, samples and batches over HTTP: opening tubes, binding people by their scanned
//! codes, sealing, shipping and receiving, and reading tubes and stuck ones.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TubeIn {
    pub(super) barcode: String,
    pub(super) site: String,
    #[serde(default)]
    pub(super) round: Option<String>,
    pub(super) capacity: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TubesIn {
    pub(super) tubes: Vec<Value>,
}

pub(super) async fn post_tubes(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "opening tubes")?;
    let b: TubesIn = parse(&headers, &body)?;
    check_count(b.tubes.len())?;
    let mut parsed: Vec<Result<NewTube, ItemError>> = Vec::with_capacity(b.tubes.len());
    for v in b.tubes {
        parsed.push((|| {
            let t: TubeIn =
                serde_json::from_value(v).map_err(|e| item_err("invalid_tube", e.to_string()))?;
            let site = SiteId::parse(&t.site)
                .ok_or_else(|| item_err("invalid_site_id", "a site id looks like S1"))?;
            let round = t
                .round
                .as_deref()
                .map(|r| {
                    RoundId::parse(r)
                        .ok_or_else(|| item_err("invalid_round_id", "a round id looks like R1"))
                })
                .transpose()?;
            Ok(NewTube {
                barcode: t.barcode,
                site,
                round,
                capacity: t.capacity,
            })
        })());
    }
    // Samplers act only at sites inside their jurisdiction.
    let sites = crate::lab::sites(&state);
    for p in parsed.iter_mut() {
        if let Ok(t) = p
            && sites
                .iter()
                .find(|s| s.id == t.site)
                .is_some_and(|s| !caller.covers(&s.area))
        {
            *p = Err(item_err(
                "site_not_allowed",
                format!("site {} is outside your jurisdiction", t.site),
            ));
        }
    }
    let good: Vec<NewTube> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut opened = crate::lab::open_tubes(&state, good, crate::now())
        .await?
        .into_iter();
    let results = parsed
        .into_iter()
        .map(|p| {
            p?;
            let id = opened
                .next()
                .unwrap_or_else(|| Err(item_err("invalid_tube", "lost")))?;
            Ok(json!({"tube": id.to_string()}))
        })
        .collect();
    batch_answer(results)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleIn {
    /// The tube's barcode.
    pub tube: String,
    /// The scanned health code, or
    #[serde(default)]
    pub token: Option<String>,
    /// the ID number of a resident without a phone.
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SamplesIn {
    pub(super) samples: Vec<Value>,
}

pub async fn post_samples(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "binding samples to tubes")?;
    let b: SamplesIn = parse(&headers, &body)?;
    let samples = b
        .samples
        .into_iter()
        .map(|v| {
            serde_json::from_value::<SampleIn>(v)
                .map_err(|e| item_err("invalid_sample", e.to_string()))
        })
        .collect();
    let results = bind_samples(&state, &caller, samples)
        .await?
        .into_iter()
        .map(|r| {
            r.map(|b| json!({"tube": b.tube.to_string(), "filled": b.filled, "sealed": b.sealed}))
        })
        .collect();
    batch_answer(results)
}

/// Who may bind swabs to tubes and seal tubes.
pub(super) const SAMPLERS: &[Role] = &[Role::Lab, Role::Admin];

/// Binds swabbed people to tubes (the command behind `POST /api/v1/samples` and the
/// sampling page): labs and admins, tubes of sites in their jurisdiction; each sample is
/// bound or refused on its own.
pub async fn bind_samples(
    state: &AppState,
    caller: &Actor,
    samples: Vec<Result<SampleIn, ItemError>>,
) -> Result<Vec<Result<crate::lab::Bound, ItemError>>, AppError> {
    caller.require(SAMPLERS, "binding samples to tubes")?;
    check_count(samples.len())?;
    let now = crate::now();
    let mut tubes = Vec::with_capacity(samples.len());
    let mut who = Vec::with_capacity(samples.len());
    let mut pre: Vec<Option<ItemError>> = Vec::with_capacity(samples.len());
    for v in samples {
        match v {
            Ok(SampleIn {
                tube,
                token: Some(t),
                id_number: None,
            }) => {
                tubes.push(tube);
                who.push(Swabbed::Token(t));
                pre.push(None);
            }
            Ok(SampleIn {
                tube,
                token: None,
                id_number: Some(n),
            }) => {
                tubes.push(tube);
                who.push(Swabbed::IdNumber(n));
                pre.push(None);
            }
            Ok(_) => {
                tubes.push(String::new());
                who.push(Swabbed::Person(PersonId(u32::MAX)));
                pre.push(Some(item_err(
                    "invalid_sample",
                    "give the tube and exactly one of token (the scanned code) or id_number",
                )));
            }
            Err(e) => {
                tubes.push(String::new());
                who.push(Swabbed::Person(PersonId(u32::MAX)));
                pre.push(Some(e));
            }
        }
    }
    // Swabs go only into tubes opened at sites inside the caller's jurisdiction.
    let sites = crate::lab::sites(state);
    for (t, p) in tubes.iter().zip(pre.iter_mut()) {
        let outside = TubeBarcode::parse(t)
            .ok()
            .and_then(|b| crate::lab::tube(state, &b))
            .and_then(|(tube, _)| sites.iter().find(|s| s.id == tube.site).cloned())
            .is_some_and(|s| !caller.covers(&s.area));
        if p.is_none() && outside {
            *p = Some(item_err(
                "site_not_allowed",
                format!("tube {t} belongs to a site outside your jurisdiction"),
            ));
        }
    }
    let resolved = crate::lab::resolve(state, who, caller.id_lookup, now).await?;
    let items: Vec<(String, Result<PersonId, ItemError>)> = tubes
        .into_iter()
        .zip(resolved)
        .zip(pre)
        .map(|((t, r), p)| {
            (
                t,
                match p {
                    Some(e) => Err(e),
                    None => r,
                },
            )
        })
        .collect();
    crate::lab::bind(state, items, now).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BarcodesIn {
    #[serde(default)]
    pub(super) tubes: Vec<String>,
}

pub async fn post_seal(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "sealing tubes")?;
    let b: BarcodesIn = parse(&headers, &body)?;
    let results = seal_tubes(&state, &caller, b.tubes)
        .await?
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "sealed"})))
        .collect();
    batch_answer(results)
}

/// Seals tubes (the command behind `POST /api/v1/tubes/seal` and the sampling page):
/// labs and admins; each tube is sealed or refused on its own.
pub async fn seal_tubes(
    state: &AppState,
    caller: &Actor,
    tubes: Vec<String>,
) -> Result<Vec<Result<xikang_domain::testing::TubeId, ItemError>>, AppError> {
    caller.require(SAMPLERS, "sealing tubes")?;
    check_count(tubes.len())?;
    crate::lab::seal(state, tubes, crate::now()).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchIn {
    pub(super) courier: String,
    pub(super) lab: String,
    pub(super) tubes: Vec<String>,
}

pub(super) async fn post_batch(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "handing tubes to a courier")?;
    let b: BatchIn = parse(&headers, &body)?;
    check_count(b.tubes.len())?;
    let ok = |s: &str| (1..=80).contains(&s.trim().chars().count());
    if !ok(&b.courier) || !ok(&b.lab) {
        return Err(AppError::bad(
            "invalid_batch",
            "courier and lab are 1 to 80 characters",
        ));
    }
    let (batch, results) = crate::lab::ship(
        &state,
        b.courier.trim().to_owned(),
        b.lab.trim().to_owned(),
        b.tubes,
        crate::now(),
    )
    .await?;
    let results: Vec<_> = results
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "in_transport"})))
        .collect();
    let mut resp = batch_answer(results)?;
    if let Some(id) = batch {
        *resp.status_mut() = StatusCode::CREATED;
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        v["batch"] = json!(id.to_string());
        return Ok((StatusCode::CREATED, Json(v)).into_response());
    }
    Ok(resp)
}

pub(super) async fn post_receive(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "receiving tubes")?;
    let batch = crate::extract::parse_id::<BatchId>(&id)?;
    let b: BarcodesIn = if body.is_empty() {
        BarcodesIn { tubes: Vec::new() }
    } else {
        parse(&headers, &body)?
    };
    if b.tubes.len() > MAX_ITEMS {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_ITEMS} tubes per request"
        )));
    }
    let results = crate::lab::receive(&state, batch, b.tubes, crate::now())
        .await?
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "received"})))
        .collect::<Vec<_>>();
    if results.is_empty() {
        return Err(AppError::Conflict {
            code: "nothing_to_receive",
            message: format!("batch {batch} has no tube in transport"),
        });
    }
    batch_answer(results)
}

pub(super) async fn get_tube(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    let barcode = TubeBarcode::parse(&id).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let (t, members) = crate::lab::tube(&state, &barcode)
        .ok_or_else(|| AppError::not_found("unknown_tube", format!("no tube {barcode}")))?;
    Ok(Json(tube_json(&t, members)).into_response())
}

pub(super) async fn get_tube_states(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    Ok(Json(json!({"states": crate::lab::state_counts(&state)})).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct StuckQuery {
    pub(super) transport_hours: Option<u32>,
    pub(super) lab_hours: Option<u32>,
}

pub(super) async fn get_stuck(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<StuckQuery>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    let policy = state.policy();
    let transport = q
        .transport_hours
        .or_else(|| policy.parameter("stuck_transport_hours"))
        .unwrap_or(6);
    let lab = q
        .lab_hours
        .or_else(|| policy.parameter("stuck_lab_hours"))
        .unwrap_or(12);
    let tubes = crate::lab::stuck(&state, crate::now(), transport, lab);
    let items: Vec<Value> = tubes
        .iter()
        .take(10_000)
        .map(|t| tube_json(t, usize::from(t.capacity)))
        .collect();
    Ok(Json(json!({"transport_hours": transport, "lab_hours": lab, "count": tubes.len(), "items": items})).into_response())
}
