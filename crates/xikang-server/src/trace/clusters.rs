//! Where a case may have caught it (sources) and the clusters the cases form, as lists and
//! as graphs.

use super::*;

/// `GET /api/v1/cases/{id}/sources`: who was with the case in the incubation period before
/// onset, most exposure first, known cases flagged.
pub async fn get_sources(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<SourcesOut>, AppError> {
    let case = visible_case(&state, &caller, &id)?;
    Ok(Json(sources_of(&state, &caller, case).await?))
}

/// Who may have infected a case (the query behind `GET /api/v1/cases/{id}/sources`), at
/// most 1,000: tracers and admins of the case's jurisdiction. Recorded in the access log,
/// one event per person listed.
pub async fn sources_of(
    state: &Arc<AppState>,
    caller: &Actor,
    case: Scoped<CaseRecord>,
) -> Result<SourcesOut, AppError> {
    let case = case.into_inner();
    let id = case.id.to_string();
    let index = state.projection.tracing.snapshot()?;
    let s = state.clone();
    let items = tokio::task::spawn_blocking(move || {
        let policy = s.policy();
        let population = s.projection.tracing.population();
        let tracer = Tracer::new(&index, &population, policy.tracing());
        let known: HashSet<PersonId> = read(&s.projection.cases)
            .values()
            .map(|c| c.person)
            .collect();
        tracer
            .sources(&case_of(&case), &known)
            .map_err(|e| AppError::not_found(e.code(), e.to_string()))
    })
    .await
    .map_err(blocking_err)??;
    let cases = read(&state.projection.cases);
    let case_of_person = |p: PersonId| {
        cases
            .values()
            .find(|c| c.person == p)
            .map(|c| c.id.to_string())
    };
    let items = &items[..items.len().min(1_000)];
    state.access.record(
        caller,
        "GET /api/v1/cases/{id}/sources",
        None,
        crate::now(),
        items.iter().map(|c| c.person),
    )?;
    let items = items
        .iter()
        .map(|c| SourceOut {
            case: if c.is_case {
                case_of_person(c.person)
            } else {
                None
            },
            first_exposure: rfc(c.first_exposure),
            last_exposure: rfc(c.last_exposure),
            overlap_minutes: minutes(c.overlap_secs),
            person: c.person.to_string(),
            venues: c
                .venues
                .iter()
                .map(|(v, secs)| SourceVenueOut {
                    overlap_minutes: minutes(*secs),
                    venue: v.to_string(),
                    venue_name: state.projection.venues.get(*v).map(|v| v.name.clone()),
                })
                .collect(),
        })
        .collect();
    Ok(SourcesOut { case: id, items })
}

/// Every registered case's close contacts and the clusters they form. Clusters are named
/// `K` + the number of their smallest case, so a cluster keeps its name as it grows.
pub fn all_clusters(
    state: &AppState,
    index: &TraceIndex,
    now: Timestamp,
) -> Vec<(String, Cluster)> {
    let policy = state.policy();
    let cases: Vec<CaseRecord> = read(&state.projection.cases).values().cloned().collect();
    let population = state.projection.tracing.population();
    let tracer = Tracer::new(index, &population, policy.tracing());
    let inputs: Vec<Case> = cases.iter().map(case_of).collect();
    let traced = tracer.close_contacts_batch(&inputs, now);
    let pairs: Vec<(CaseId, &CloseContacts)> = cases
        .iter()
        .zip(&traced)
        .filter_map(|(c, t)| t.as_ref().ok().map(|t| (c.id, t)))
        .collect();
    clusters(&pairs)
        .into_iter()
        .map(|k| (format!("K{}", k.cases.first().map_or(0, |c| c.0)), k))
        .collect()
}

impl ClusterOut {
    /// A cluster as the API shows it, its venues named from the projection.
    pub fn new(state: &AppState, id: &str, k: &Cluster) -> ClusterOut {
        ClusterOut {
            cases: k.cases.iter().map(ToString::to_string).collect(),
            edges: k.edges.iter().map(EdgeOut::from).collect(),
            id: id.to_owned(),
            venues: k
                .venues
                .iter()
                .map(|v| ClusterVenueOut {
                    name: state.projection.venues.get(*v).map(|v| v.name.clone()),
                    venue: v.to_string(),
                })
                .collect(),
        }
    }
}

pub(super) async fn computed_clusters(
    state: &Arc<AppState>,
    caller: &Actor,
) -> Result<Vec<(String, Cluster)>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reading clusters")?;
    let index = state.projection.tracing.snapshot()?;
    let s = state.clone();
    let all = tokio::task::spawn_blocking(move || all_clusters(&s, &index, crate::now()))
        .await
        .map_err(blocking_err)?;
    // A cluster is listed when the caller may read at least one of its cases.
    let cases = read(&state.projection.cases);
    Ok(all
        .into_iter()
        .filter(|(_, k)| {
            k.cases.iter().any(|c| {
                cases
                    .get(c)
                    .and_then(|c| state.projection.person_area(c.person))
                    .is_some_and(|a| caller.covers(&a))
            })
        })
        .collect())
}

/// `GET /api/v1/clusters`.
pub async fn list_clusters(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ItemsOut<ClusterSummaryOut>>, AppError> {
    let all = computed_clusters(&state, &caller).await?;
    let items = all
        .iter()
        .map(|(id, k)| ClusterSummaryOut {
            cases: k.cases.len(),
            edges: k.edges.len(),
            id: id.clone(),
            venues: k.venues.len(),
        })
        .collect();
    Ok(Json(ItemsOut { items }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ClusterQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/clusters/{id}` (`?format=dot` for Graphviz).
pub async fn get_cluster(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, AppError> {
    if !id.starts_with('K') || id[1..].parse::<u64>().is_err() {
        return Err(AppError::bad(
            "invalid_cluster_id",
            "a cluster id looks like K1",
        ));
    }
    let all = computed_clusters(&state, &caller).await?;
    let (_, k) = all
        .iter()
        .find(|(k, _)| *k == id)
        .ok_or_else(|| AppError::not_found("unknown_cluster", format!("no cluster {id}")))?;
    let people: Vec<PersonId> = {
        let cases = read(&state.projection.cases);
        k.cases
            .iter()
            .filter_map(|c| cases.get(c).map(|c| c.person))
            .collect()
    };
    state.access.record(
        &caller,
        "GET /api/v1/clusters/{id}",
        None,
        crate::now(),
        people,
    )?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(ClusterOut::new(&state, &id, k)).into_response()),
        Some("dot") => {
            let mut resp = to_dot(k).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/vnd.graphviz; charset=utf-8"),
            );
            Ok(resp)
        }
        Some(_) => Err(AppError::bad("invalid_format", "format is json or dot")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::{HouseholdId, ScanDirection, VenueId};

    fn scan(person: u32, at: i64) -> CheckIn {
        CheckIn {
            person: PersonId(person),
            venue: VenueId(0),
            at: Timestamp(at),
            direction: ScanDirection::Entry,
        }
    }

    /// Scans committed while the stored ones load are neither lost nor counted twice.
    #[test]
    fn scans_committed_during_the_load_are_kept_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            xikang_store::open(&xikang_store::Target::Sqlite(dir.path().into())).expect("open");
        let t0 = 1_656_640_800; // 2022-07-01 10:00 in Shanghai
        let stored: Vec<CheckIn> = (0..3).map(|p| scan(p, t0 + i64::from(p))).collect();
        store.insert_checkins(&stored).expect("insert");
        let population = Population::new(
            &[
                HouseholdId(0),
                HouseholdId(1),
                HouseholdId(2),
                HouseholdId(3),
            ],
            &[None; 4],
            &[],
            vec![3_600],
            3_600,
        )
        .expect("population");
        let tracing = Tracing::new(population);
        assert!(tracing.snapshot().is_err(), "not ready before the load");
        // Committed meanwhile: one new scan, and one the store already holds.
        lock(&tracing.live).append(&[scan(3, t0 + 10), stored[0]]);
        tracing.load(store.as_ref()).expect("load");
        let index = tracing.snapshot().expect("ready");
        assert_eq!(index.len(), 4);
        let seen = index.checkins_at_venue(VenueId(0), Timestamp(t0), Timestamp(t0 + 10));
        assert_eq!(
            seen.iter().map(|c| c.person.0).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        // After the load, appends go straight into the index.
        lock(&tracing.live).append(&[scan(3, t0 + 20)]);
        assert_eq!(tracing.snapshot().expect("ready").len(), 5);
    }
}
