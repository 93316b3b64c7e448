//! Tubes, samples and batches over HTTP: opening tubes, binding people by their scanned
//! codes, sealing, shipping and receiving, and reading tubes and stuck ones. Each
//! operation is a command or query taking `(&AppState, &Actor, input)`; the handlers only
//! extract, call and answer.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TubeIn {
    pub(super) barcode: String,
    pub(super) site: String,
    #[serde(default)]
    pub(super) round: Option<String>,
    pub(super) capacity: u8,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TubesIn {
    pub tubes: Vec<Value>,
}

/// Opens tubes at sites (labs and admins, at sites in their jurisdiction); each tube is
/// opened or refused on its own.
pub async fn open_new_tubes(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<TubesIn>,
) -> Result<BatchOut<TubeOpenedOut>, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "opening tubes")?;
    let b = input.get()?;
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
    let sites = crate::lab::sites(state);
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
    let mut opened = crate::lab::open_tubes(state, good, crate::now())
        .await?
        .into_iter();
    let results = parsed
        .into_iter()
        .map(|p| {
            p?;
            let id = opened
                .next()
                .unwrap_or_else(|| Err(item_err("invalid_tube", "lost")))?;
            Ok(id)
        })
        .collect();
    batch_reply(batch_items(results, None, |id, index, _| TubeOpenedOut {
        index,
        tube: id.to_string(),
    }))
}

pub(super) async fn post_tubes(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<TubesIn>,
) -> Result<Json<BatchOut<TubeOpenedOut>>, AppError> {
    Ok(Json(open_new_tubes(&state, &caller, input).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamplesIn {
    pub samples: Vec<Value>,
}

/// `POST /api/v1/samples`: each sample parsed on its own, then [`bind_samples`].
pub async fn post_samples(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SamplesIn>,
) -> Result<Json<BatchOut<SampleBoundOut>>, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "binding samples to tubes")?;
    let b = input.get()?;
    let samples = b
        .samples
        .into_iter()
        .map(|v| {
            serde_json::from_value::<SampleIn>(v)
                .map_err(|e| item_err("invalid_sample", e.to_string()))
        })
        .collect();
    let results = bind_samples(&state, &caller, samples).await?;
    Ok(Json(batch_reply(batch_items(
        results,
        None,
        |b, index, _| SampleBoundOut::new(b, index),
    ))?))
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
    let outside = crate::lab::tubes_outside(state, &tubes, |area| caller.covers(area));
    for ((t, p), outside) in tubes.iter().zip(pre.iter_mut()).zip(outside) {
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

/// A list of tube barcodes (`POST /tubes/seal`, `POST /batches/{id}/receive`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BarcodesIn {
    #[serde(default)]
    pub tubes: Vec<String>,
}

/// `POST /api/v1/tubes/seal`: [`seal_tubes`], answered per tube.
pub async fn post_seal(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<BarcodesIn>,
) -> Result<Json<BatchOut<TubeMovedOut>>, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "sealing tubes")?;
    let b = input.get()?;
    let results = seal_tubes(&state, &caller, b.tubes).await?;
    Ok(Json(batch_reply(batch_items(
        results,
        None,
        |id, index, _| TubeMovedOut::new(id, index, "sealed"),
    ))?))
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

/// The body of `POST /batches`: the tubes handed to a courier for a lab.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchIn {
    pub courier: String,
    pub lab: String,
    pub tubes: Vec<String>,
}

/// Hands sealed tubes to a courier (labs and admins): a batch is made when at least one
/// tube goes, and each tube goes or is refused on its own.
pub async fn ship_batch(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<BatchIn>,
) -> Result<BatchOut<TubeMovedOut>, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "handing tubes to a courier")?;
    let b = input.get()?;
    check_count(b.tubes.len())?;
    let ok = |s: &str| (1..=80).contains(&s.trim().chars().count());
    if !ok(&b.courier) || !ok(&b.lab) {
        return Err(AppError::bad(
            "invalid_batch",
            "courier and lab are 1 to 80 characters",
        ));
    }
    let (batch, results) = crate::lab::ship(
        state,
        b.courier.trim().to_owned(),
        b.lab.trim().to_owned(),
        b.tubes,
        crate::now(),
    )
    .await?;
    let mut out = batch_reply(batch_items(results, None, |id, index, _| {
        TubeMovedOut::new(id, index, "in_transport")
    }))?;
    out.batch = batch.map(|id| id.to_string());
    Ok(out)
}

/// `POST /api/v1/batches`: 201 when a batch was made.
pub(super) async fn post_batch(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<BatchIn>,
) -> Result<(StatusCode, Json<BatchOut<TubeMovedOut>>), AppError> {
    let out = ship_batch(&state, &caller, input).await?;
    let status = if out.batch.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// Receives a batch's tubes at the lab (labs and admins): the listed ones, or every tube
/// still in transport when none is listed.
pub async fn receive_batch(
    state: &AppState,
    caller: &Actor,
    batch: BatchId,
    input: JsonIn<BarcodesIn>,
) -> Result<BatchOut<TubeMovedOut>, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "receiving tubes")?;
    let b = input.get_or_default()?;
    if b.tubes.len() > MAX_ITEMS {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_ITEMS} tubes per request"
        )));
    }
    let results = crate::lab::receive(state, batch, b.tubes, crate::now()).await?;
    if results.is_empty() {
        return Err(AppError::Conflict {
            code: "nothing_to_receive",
            message: format!("batch {batch} has no tube in transport"),
        });
    }
    batch_reply(batch_items(results, None, |id, index, _| {
        TubeMovedOut::new(id, index, "received")
    }))
}

pub(super) async fn post_receive(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(batch): Id<BatchId>,
    input: JsonIn<BarcodesIn>,
) -> Result<Json<BatchOut<TubeMovedOut>>, AppError> {
    Ok(Json(receive_batch(&state, &caller, batch, input).await?))
}

/// A tube by its barcode (labs and admins).
pub fn read_tube(state: &AppState, caller: &Actor, barcode: &str) -> Result<TubeOut, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    let barcode =
        TubeBarcode::parse(barcode).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let (t, members) = crate::lab::tube(state, &barcode)
        .ok_or_else(|| AppError::not_found("unknown_tube", format!("no tube {barcode}")))?;
    Ok(TubeOut::new(&t, members))
}

/// `GET /api/v1/tubes/{barcode}`: a barcode is not a typed id, so it is read as text.
pub(super) async fn get_tube(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(barcode): Path<String>,
) -> Result<Json<TubeOut>, AppError> {
    Ok(Json(read_tube(&state, &caller, &barcode)?))
}

/// How many tubes are in each state (labs and admins).
pub fn tube_states(state: &AppState, caller: &Actor) -> Result<TubeStatesOut, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    Ok(TubeStatesOut {
        states: crate::lab::state_counts(state),
    })
}

pub(super) async fn get_tube_states(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<TubeStatesOut>, AppError> {
    Ok(Json(tube_states(&state, &caller)?))
}

/// The query of `GET /tubes/stuck`; the policy's hours when absent.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StuckQuery {
    pub transport_hours: Option<u32>,
    pub lab_hours: Option<u32>,
}

/// Tubes stuck on the way or in the lab (labs and admins), the first 10 000 listed.
pub fn stuck_tubes(state: &AppState, caller: &Actor, q: StuckQuery) -> Result<StuckOut, AppError> {
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
    let tubes = crate::lab::stuck(state, crate::now(), transport, lab);
    Ok(StuckOut {
        count: tubes.len(),
        items: tubes
            .iter()
            .take(10_000)
            .map(|t| TubeOut::new(t, usize::from(t.capacity)))
            .collect(),
        lab_hours: lab,
        transport_hours: transport,
    })
}

pub(super) async fn get_stuck(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<StuckQuery>,
) -> Result<Json<StuckOut>, AppError> {
    Ok(Json(stuck_tubes(&state, &caller, q)?))
}
