//! Contact lists: a case traced over the index (close, secondary and companion contacts
//! with their evidence), listed by page with the tracer's decisions, and exported as CSV or
//! XLSX.

use super::*;

/// The tracing view of a registered case. A case without a recorded isolation time is
/// isolated from its registration: from then on it is under treatment or observation (red),
/// so nobody is exposed to it afterwards. Ending its exposure window at "now" instead made
/// every answer depend on the instant of the request (a household contact's last exposure
/// moved with the clock, and two requests a second apart disagreed).
pub fn case_of(c: &CaseRecord) -> Case {
    let anchor = c.onset.or(c.sampled_at).unwrap_or(c.registered_at);
    Case {
        person: c.person,
        kind: c.kind,
        onset: c.onset,
        sampled: c.sampled_at.unwrap_or(anchor),
        isolated: Some(c.isolated_at.unwrap_or(c.registered_at)),
    }
}

/// A case the caller may read, by the id in a path or form.
pub(crate) fn visible_case(
    state: &AppState,
    caller: &Actor,
    id: &str,
) -> Result<Scoped<CaseRecord>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reading contact lists")?;
    let id = crate::extract::parse_id::<CaseId>(id)?;
    crate::app::authorise::case(state, caller, id)
}

/// Close and secondary contacts and companions of one case.
#[derive(Debug)]
pub struct Traced {
    pub close: CloseContacts,
    pub secondary: SecondaryContacts,
    pub companions: Vec<Companion>,
    /// The cell side of the ping index the companions come from; `None` while it loads
    /// (the list then has no companions yet).
    pub companion_cell_metres: Option<u32>,
}

/// Traces one case over a snapshot: close contacts, then secondary contacts up to each
/// close contact's quarantine (when a tracer ordered one).
pub fn trace_case(
    state: &AppState,
    index: &TraceIndex,
    policy: &Policy,
    case: &CaseRecord,
    now: Timestamp,
) -> Result<Traced, AppError> {
    let population = state.projection.tracing.population();
    let tracer = Tracer::new(index, &population, policy.tracing());
    let close = tracer
        .close_contacts(&case_of(case), now)
        .map_err(|e| AppError::not_found(e.code(), e.to_string()))?;
    let quarantined = |p: PersonId| {
        state
            .projection
            .tracing
            .designation(case.id, p)
            .and_then(|d| d.quarantined_at)
    };
    let secondary = tracer.secondary_contacts(&close, quarantined, now);
    let (companions, companion_cell_metres) = match state.projection.tracing.pings.snapshot() {
        Some((pings, metres)) => (
            companions(&pings, policy.tracing(), &case_of(case), now),
            Some(metres),
        ),
        None => (Vec::new(), None),
    };
    Ok(Traced {
        close,
        secondary,
        companions,
        companion_cell_metres,
    })
}

pub(super) fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// One row of a contact list, as listed and exported. Fields in alphabetical order, as
/// the list printed them when it was built with `json!`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed_reason: Option<String>,
    pub district: Option<String>,
    pub evidence: Vec<EvidenceOut>,
    pub first_exposure: String,
    pub kind: ContactKind,
    pub last_exposure: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub overlap_minutes: i64,
    pub person: String,
    pub rules: Vec<&'static str>,
    pub status: Status,
}

/// Builds the rows of a traced case, merged with the tracer's decisions.
pub fn contact_rows(state: &AppState, case: &CaseRecord, t: &Traced) -> Vec<ContactRow> {
    let status = |p: PersonId| state.projection.tracing.designation(case.id, p);
    let district = |p: PersonId| {
        state
            .projection
            .person_area(p)
            .map(|a| a.district().to_string())
    };
    let venue_name = |v: Option<xikang_domain::VenueId>| {
        v.and_then(|v| state.projection.venues.get(v))
            .map(|v| v.name.clone())
    };
    let mut rows = Vec::new();
    let mut listed = HashSet::new();
    // A row for a traced contact, with the tracer's decision on them, if any.
    let row = |person: PersonId,
               kind: ContactKind,
               rules: Vec<&'static str>,
               (first, last): (Timestamp, Timestamp),
               overlap_minutes: i64,
               evidence: Vec<EvidenceOut>| {
        let d = status(person);
        ContactRow {
            person: person.to_string(),
            district: district(person),
            kind,
            status: d.as_ref().map_or(Status::Candidate, |d| d.status),
            rules,
            first_exposure: rfc(first),
            last_exposure: rfc(last),
            overlap_minutes,
            dismissed_reason: d.as_ref().and_then(|d| d.reason.clone()),
            order: d.as_ref().and_then(|d| d.order.map(|o| o.to_string())),
            evidence,
        }
    };
    for c in &t.close.contacts {
        listed.insert(c.person);
        let mut rules: Vec<&'static str> = c.evidence.iter().map(|e| e.rule.as_str()).collect();
        rules.dedup();
        let evidence = c
            .evidence
            .iter()
            .map(|e| EvidenceOut::Close(CloseEvidenceOut::new(e, venue_name(e.venue))))
            .collect();
        let when = (c.first_exposure, c.last_exposure);
        rows.push(row(
            c.person,
            ContactKind::Close,
            rules,
            when,
            minutes(c.overlap_secs()),
            evidence,
        ));
    }
    for s in &t.secondary.contacts {
        listed.insert(s.person);
        let evidence = s
            .groups
            .iter()
            .filter_map(|g| t.secondary.groups.get(*g))
            .map(|g| EvidenceOut::Secondary(SecondaryEvidenceOut::new(g, venue_name(g.venue))))
            .collect();
        let when = (s.first_exposure, s.last_exposure);
        rows.push(row(
            s.person,
            ContactKind::Secondary,
            vec!["secondary"],
            when,
            0,
            evidence,
        ));
    }
    // Companions: a person already listed (a close contact who was also in the case's cell)
    // keeps one row, with the companion evidence and rule added to it.
    let at: BTreeMap<PersonId, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| PersonId::parse(&r.person).map(|p| (p, i)))
        .collect();
    for c in &t.companions {
        let evidence: Vec<EvidenceOut> = c
            .cells
            .iter()
            .map(|cell| {
                EvidenceOut::Companion(CompanionEvidenceOut::new(cell, t.companion_cell_metres))
            })
            .collect();
        let overlap: i64 = c.cells.iter().map(|x| x.overlap_secs).sum();
        if let Some(&i) = at.get(&c.person) {
            let existing = &mut rows[i];
            existing.rules.push("companion");
            existing.evidence.extend(evidence);
            continue;
        }
        listed.insert(c.person);
        let when = (c.first_exposure, c.last_exposure);
        rows.push(row(
            c.person,
            ContactKind::Companion,
            vec!["companion"],
            when,
            minutes(overlap),
            evidence,
        ));
    }
    // Designations whose evidence the data no longer shows (retention dropped the days, or
    // the policy changed) stay on the list: a decision is never silently lost.
    for ((c, p), d) in read(&state.projection.tracing.workflow).range((case.id, PersonId(0))..) {
        if *c != case.id {
            break;
        }
        if listed.contains(p) {
            continue;
        }
        rows.push(ContactRow {
            person: p.to_string(),
            district: district(*p),
            kind: d.kind,
            status: d.status,
            rules: Vec::new(),
            first_exposure: d.last_exposure.map(rfc).unwrap_or_default(),
            last_exposure: d.last_exposure.map(rfc).unwrap_or_default(),
            overlap_minutes: 0,
            dismissed_reason: d.reason.clone(),
            order: d.order.map(|o| o.to_string()),
            evidence: Vec::new(),
        });
    }
    rows
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ContactQuery {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    kind: Option<ContactKind>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    unmask: bool,
    #[serde(default)]
    purpose: Option<String>,
    /// Paging of the JSON list (a case at a school has tens of thousands of contacts):
    /// rows `offset..offset + limit`, limit at most [`MAX_PAGE`] (default 1,000).
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The most rows one page of a contact list holds.
pub const MAX_PAGE: usize = 10_000;

impl ContactQuery {
    fn keeps(&self, r: &ContactRow) -> bool {
        self.status.is_none_or(|s| s == r.status)
            && self.kind.is_none_or(|k| k == r.kind)
            && self
                .district
                .as_deref()
                .is_none_or(|d| r.district.as_deref().is_some_and(|x| x.starts_with(d)))
            && self
                .rule
                .as_deref()
                .is_none_or(|rule| r.rules.contains(&rule))
    }
}

pub(super) const RULES: &[&str] = &["venue", "household", "workplace", "secondary", "companion"];

/// Computes the filtered rows of a case's contact list.
impl ContactQuery {
    /// The whole list, masked, as a `csv` or `xlsx` file (the case page's export links).
    pub fn masked_export(format: String) -> ContactQuery {
        ContactQuery {
            format: Some(format),
            ..ContactQuery::default()
        }
    }
}

pub(super) async fn listed(
    state: &Arc<AppState>,
    case: &CaseRecord,
    q: &ContactQuery,
) -> Result<(Traced, Vec<ContactRow>), AppError> {
    if let Some(rule) = q.rule.as_deref()
        && !RULES.contains(&rule)
    {
        return Err(AppError::bad(
            "invalid_rule",
            format!("rule is one of {}", RULES.join(", ")),
        ));
    }
    let index = state.projection.tracing.snapshot()?;
    let (s, case2) = (state.clone(), case.clone());
    let now = crate::now();
    let (traced, rows) = tokio::task::spawn_blocking(move || {
        let policy = s.policy();
        let t = trace_case(&s, &index, &policy, &case2, now)?;
        let rows = contact_rows(&s, &case2, &t);
        Ok::<_, AppError>((t, rows))
    })
    .await
    .map_err(blocking_err)??;
    Ok((traced, rows.into_iter().filter(|r| q.keeps(r)).collect()))
}

/// `GET /api/v1/cases/{id}/contacts`: the contact list with evidence, filterable by
/// `status`, `district` (prefix), `rule` and `kind`, paged by `offset` and `limit`; `count`
/// is the length of the whole filtered list.
pub async fn get_contacts(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ContactQuery>,
) -> Result<Json<ContactsPageOut>, AppError> {
    let case = visible_case(&state, &caller, &id)?;
    Ok(Json(contacts_page(&state, &caller, case, &q).await?))
}

/// One page of a case's filtered contact list (the query behind
/// `GET /api/v1/cases/{id}/contacts`): tracers and admins of the case's jurisdiction;
/// recorded in the access log, one event per contact on the page.
pub async fn contacts_page(
    state: &Arc<AppState>,
    caller: &Actor,
    case: Scoped<CaseRecord>,
    q: &ContactQuery,
) -> Result<ContactsPageOut, AppError> {
    let case = case.into_inner();
    let limit = q.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::bad(
            "invalid_limit",
            format!("limit is between 1 and {MAX_PAGE}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    let (t, rows) = listed(state, &case, q).await?;
    let count = rows.len();
    let items: Vec<ContactRow> = rows.into_iter().skip(offset).take(limit).collect();
    state.access.record(
        caller,
        "GET /api/v1/cases/{id}/contacts",
        None,
        crate::now(),
        items.iter().filter_map(|r| PersonId::parse(&r.person)),
    )?;
    let case_presence = t
        .close
        .case_presence
        .iter()
        .map(|(v, ivs)| PresenceOut {
            presence: intervals(ivs),
            venue: v.to_string(),
            venue_name: state.projection.venues.get(*v).map(|v| v.name.clone()),
        })
        .collect();
    Ok(ContactsPageOut {
        case: case.id.to_string(),
        case_presence,
        companions: CompanionsOut {
            cell_metres: t.companion_cell_metres,
            ready: t.companion_cell_metres.is_some(),
        },
        count,
        items,
        offset,
        policy_version: state.policy().version().to_owned(),
        window: (&t.close.window).into(),
    })
}

/// `GET /api/v1/cases/{id}/contacts/export?format=csv|xlsx`: the list for the people who
/// phone contacts. Names, phones and ID numbers are masked unless `unmask=true` with a
/// `purpose`, which only tracers and admins may ask; every export is an authority event.
pub async fn export_contacts(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ContactQuery>,
) -> Result<Response, AppError> {
    let case = visible_case(&state, &caller, &id)?;
    Ok(export_contact_list(&state, &caller, case, &q)
        .await?
        .into_response())
}

/// A contact-list export file.
#[derive(Debug)]
pub struct ContactExport {
    /// `contacts-C1.csv` or `.xlsx`.
    pub name: String,
    pub mime: &'static str,
    pub body: Vec<u8>,
}

impl IntoResponse for ContactExport {
    /// The file as a download, never cached.
    fn into_response(self) -> Response {
        let mut resp = self.body.into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.mime));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", self.name)) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        resp
    }
}

/// A case's contact list as a file (the query behind the API's export and the case page's
/// links): tracers and admins of the case's jurisdiction; unmasked only with a purpose, and
/// only for contacts who live in the caller's jurisdiction (the others stay masked); every
/// export is recorded as `ContactListExported` before the file is made, and in the access
/// log one event per contact.
pub async fn export_contact_list(
    state: &Arc<AppState>,
    caller: &Actor,
    case: Scoped<CaseRecord>,
    q: &ContactQuery,
) -> Result<ContactExport, AppError> {
    let case = case.into_inner();
    let format = crate::export::Format::parse(q.format.as_deref())?;
    let purpose = q.purpose.clone().filter(|p| !p.trim().is_empty());
    if q.unmask && purpose.is_none() {
        return Err(AppError::bad(
            "purpose_required",
            "an unmasked export needs a ?purpose=",
        ));
    }
    let (_, rows) = listed(state, &case, q).await?;
    let store = state.store.clone();
    let ids: Vec<PersonId> = rows
        .iter()
        .filter_map(|r| PersonId::parse(&r.person))
        .collect();
    state.access.record(
        caller,
        "GET /api/v1/cases/{id}/contacts/export",
        purpose.as_deref().filter(|_| q.unmask),
        crate::now(),
        ids.iter().copied(),
    )?;
    let people = tokio::task::spawn_blocking(move || {
        ids.iter()
            .map(|p| store.person(*p))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(blocking_err)??;
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: purpose.unwrap_or_else(|| "contact list export (masked)".into()),
            body: EventBody::ContactListExported {
                case: case.id,
                rows: u32::try_from(rows.len()).unwrap_or(u32::MAX),
                unmasked: q.unmask,
            },
        }])
        .await?;
    let mut table = Table {
        headers: [
            "人员编号 person",
            "姓名 name",
            "身份证号 ID number",
            "电话 phone",
            "区 district",
            "类别 kind",
            "状态 status",
            "依据 rules",
            "首次暴露 first exposure",
            "末次暴露 last exposure",
            "重叠分钟 overlap minutes",
            "场所 venues",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for (r, p) in rows.iter().zip(&people) {
        // Unmasked only for contacts who live in the caller's jurisdiction: the others are
        // another district's to phone, and are handed over masked (the row and its
        // district say that they exist and where).
        let out = p.as_ref().map(|p| {
            let own = crate::app::authorise::person_in_area(state, caller, p.id);
            crate::wire::PersonOut::new(p, q.unmask && own)
        });
        let venues: Vec<String> = r
            .evidence
            .iter()
            .filter_map(EvidenceOut::venue_name)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        table.rows.push(vec![
            Cell::from(r.person.as_str()),
            out.as_ref()
                .map_or(Cell::from(""), |o| o.name.clone().into()),
            out.as_ref()
                .map_or(Cell::from(""), |o| o.id_number.clone().into()),
            out.as_ref()
                .and_then(|o| o.phone.clone())
                .map_or(Cell::from(""), Cell::from),
            Cell::from(r.district.clone().unwrap_or_default()),
            Cell::from(match r.kind {
                ContactKind::Close => "密接 close",
                ContactKind::Secondary => "次密接 secondary",
                ContactKind::Companion => "时空伴随 companion",
                ContactKind::General => "一般接触 general",
            }),
            Cell::from(r.status.as_str()),
            Cell::from(r.rules.join(" ")),
            Cell::from(r.first_exposure.as_str()),
            Cell::from(r.last_exposure.as_str()),
            Cell::Number(r.overlap_minutes as f64),
            Cell::from(venues.join("; ")),
        ]);
    }
    let file = format!("contacts-{}", case.id);
    let (body, mime, ext) = format.encode(&table, &case.id.to_string())?;
    Ok(ContactExport {
        name: format!("{file}.{ext}"),
        mime,
        body,
    })
}
