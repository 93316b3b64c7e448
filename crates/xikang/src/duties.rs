//! Duties on the command line: writing the synthetic city's grid, importing a grid from CSV,
//! and the duty benchmark (`xikang bench-duties`): seal and lift a zone of N residents and
//! time a grid worker's task list with M open tasks city-wide, through the same functions
//! (and, for the task list, the same HTTP endpoint) a request uses.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use xikang_domain::duties::{Polygon, TaskKind};
use xikang_domain::event::ZoneLevel;
use xikang_domain::policy::{DEFAULT_POLICY_TOML, Policy};
use xikang_domain::time::HOUR;
use xikang_domain::{AreaCode, CivilDay, GridCell, PersonId};
use xikang_server::ServerConfig;
use xikang_server::auth::token_digest;
use xikang_server::state::AppState;
use xikang_sim::{City, CityConfig, generate_city, grid_rows};
use xikang_store::{ApiToken, DutyOp, GridCellRecord, NewTask, Store, Target};

/// Writes the city's administrative grid (cells, communities, grid workers) and the names of
/// its districts, streets and communities.
pub fn insert_grid(store: &dyn Store, city: &City) -> Result<()> {
    let rows: Vec<GridCellRecord> = grid_rows(city)
        .into_iter()
        .map(|r| GridCellRecord {
            cell: r.cell,
            community: r.community,
            name: r.name,
            lat: r.lat,
            lon: r.lon,
            worker: Some(r.worker),
        })
        .collect();
    for chunk in rows.chunks(10_000) {
        store.put_grid_cells(chunk)?;
    }
    let mut names = Vec::new();
    for d in &city.districts {
        names.push((d.code.clone(), d.name.to_owned()));
        for s in &d.streets {
            names.push((s.code.clone(), s.name.clone()));
            names.extend(
                s.communities
                    .iter()
                    .map(|c| (c.code.clone(), c.name.clone())),
            );
        }
    }
    store.put_area_names(&names)?;
    // The synthetic city's district shapes (Voronoi cells of the district centres, see
    // xikang_sim::district_outlines): plausible, not Wuxi's real borders.
    let outlines: Vec<(AreaCode, String)> = xikang_sim::district_outlines(city)
        .into_iter()
        .map(|o| {
            let mut ring: Vec<[f64; 2]> = o.ring.iter().map(|p| [p.0, p.1]).collect();
            ring.push(ring[0]);
            let geometry = serde_json::json!({ "type": "Polygon", "coordinates": [ring] });
            (o.code, geometry.to_string())
        })
        .collect();
    store.put_district_outlines(&outlines)?;
    Ok(())
}

/// One district of an outline import: its code, its name when the file gives one, and its
/// validated polygon.
#[derive(Debug)]
pub struct DistrictShape {
    pub code: AreaCode,
    pub name: Option<String>,
    pub polygon: Polygon,
}

/// Parses a GeoJSON `FeatureCollection` of district outlines: each feature a `Polygon` (one
/// outer ring; validated as zone polygons are) with the district's 6-digit code in the
/// property `code_property` (a string or a number) and optionally its name in
/// `name_property`. A code may appear once.
pub fn parse_district_geojson(
    text: &str,
    code_property: &str,
    name_property: &str,
) -> Result<Vec<DistrictShape>, String> {
    let features = feature_collection(text)?;
    let mut out: Vec<DistrictShape> = Vec::new();
    for (k, f) in features.iter().enumerate() {
        let at = |m: &str| format!("feature {}: {m}", k + 1);
        let code = match f.property(code_property) {
            Some(serde_json::Value::String(s)) => s.trim().to_owned(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                return Err(at(&format!(
                    "property {code_property:?} (the district code) is missing"
                )));
            }
        };
        let code = AreaCode::parse(&code)
            .ok()
            .filter(|c| c.as_str().len() == 6)
            .ok_or_else(|| at(&format!("{code:?} is not a 6-digit district code")))?;
        if out.iter().any(|d| d.code == code) {
            return Err(at(&format!("district {} appears twice", code.as_str())));
        }
        let name = f
            .property(name_property)
            .and_then(|n| n.as_str())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let polygon = polygon_of(f).map_err(|e| at(&e))?;
        out.push(DistrictShape {
            code,
            name,
            polygon,
        });
    }
    if out.is_empty() {
        return Err("the FeatureCollection has no features".into());
    }
    Ok(out)
}

/// The features of a GeoJSON `FeatureCollection` (read by the `geojson` crate).
fn feature_collection(text: &str) -> Result<Vec<geojson::Feature>, String> {
    match text.parse::<geojson::GeoJson>() {
        Ok(geojson::GeoJson::FeatureCollection(fc)) => Ok(fc.features),
        Ok(_) => Err("the file must be a GeoJSON FeatureCollection".into()),
        Err(e) => Err(format!("not GeoJSON: {e}")),
    }
}

/// A feature's validated polygon.
fn polygon_of(f: &geojson::Feature) -> Result<Polygon, String> {
    let geometry = f.geometry.as_ref().ok_or("a Feature needs a geometry")?;
    Polygon::from_geometry(geometry).map_err(|e| e.0)
}

/// `xikang districts import`: reads and checks the whole file, then replaces every stored
/// district outline (and names the districts the file names).
pub fn import_districts(
    store: &dyn Store,
    path: &Path,
    code_property: &str,
    name_property: &str,
) -> Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let shapes = parse_district_geojson(&text, code_property, name_property)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let names: Vec<(AreaCode, String)> = shapes
        .iter()
        .filter_map(|d| d.name.clone().map(|n| (d.code.clone(), n)))
        .collect();
    store
        .put_district_outlines(
            &shapes
                .iter()
                .map(|d| (d.code.clone(), d.polygon.to_geojson().to_string()))
                .collect::<Vec<_>>(),
        )
        .context("writing district outlines")?;
    store
        .put_area_names(&names)
        .context("writing district names")?;
    Ok(shapes.len())
}

/// Parses a grid CSV: a header `cell,community,name,lat,lon,worker` then one row per cell
/// (worker may be empty). Read by the server's table reader (a byte-order mark, RFC 4180
/// quoting); every row is checked before anything is written.
pub fn parse_grid_csv(text: &str) -> Result<Vec<GridCellRecord>, String> {
    let mut rows = Vec::new();
    for row in xikang_server::table::csv_rows(text.as_bytes()) {
        let row = row.map_err(|e| e.to_string())?;
        if !row.fields.iter().all(|f| f.trim().is_empty()) {
            rows.push(row);
        }
    }
    let mut rows = rows.into_iter();
    let header = rows.next().ok_or("the file is empty")?;
    let expected = ["cell", "community", "name", "lat", "lon", "worker"];
    if header.fields.iter().map(|s| s.trim()).ne(expected) {
        return Err(format!(
            "line {}: the header must be {}",
            header.line,
            expected.join(",")
        ));
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let at = |m: String| format!("line {}: {m}", row.line);
        let f = &row.fields;
        if f.len() != 6 {
            return Err(at(format!("expected 6 fields, got {}", f.len())));
        }
        let cell: u32 = f[0]
            .trim()
            .parse()
            .map_err(|_| at("cell must be a whole number".into()))?;
        let lat: f64 = f[3]
            .trim()
            .parse()
            .map_err(|_| at("lat must be a number".into()))?;
        let lon: f64 = f[4]
            .trim()
            .parse()
            .map_err(|_| at("lon must be a number".into()))?;
        let worker = f[5].trim();
        let rec = xikang_server::duties::grid_record(
            cell,
            f[1].trim(),
            &f[2],
            lat,
            lon,
            (!worker.is_empty()).then_some(worker),
        )
        .map_err(&at)?;
        if !seen.insert(cell) {
            return Err(at(format!("cell {cell} appears twice")));
        }
        out.push(rec);
    }
    if out.is_empty() {
        return Err("no rows after the header".into());
    }
    Ok(out)
}

/// Parses a GeoJSON `FeatureCollection` of grid cells: each feature a cell polygon with
/// properties `cell`, `community`, `name` and optionally `worker`; the cell's point is the
/// polygon's centroid. Invalid or self-intersecting polygons are refused.
pub fn parse_grid_geojson(text: &str) -> Result<Vec<GridCellRecord>, String> {
    let features = feature_collection(text)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, f) in features.iter().enumerate() {
        let at = |m: &str| format!("feature {k}: {m}");
        let prop = |name: &str| f.property(name).unwrap_or(&serde_json::Value::Null);
        let cell = prop("cell")
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| at("properties.cell must be a whole number"))?;
        let community = prop("community")
            .as_str()
            .ok_or_else(|| at("properties.community"))?;
        let name = prop("name").as_str().ok_or_else(|| at("properties.name"))?;
        let poly = polygon_of(f).map_err(|e| at(&e))?;
        let (lon, lat) = poly.centroid();
        let rec = xikang_server::duties::grid_record(
            cell,
            community,
            name,
            lat,
            lon,
            prop("worker").as_str(),
        )
        .map_err(|e| at(&e))?;
        if !seen.insert(cell) {
            return Err(at(&format!("cell {cell} appears twice")));
        }
        out.push(rec);
    }
    if out.is_empty() {
        return Err("no features".into());
    }
    Ok(out)
}

/// `xikang grid import`: reads and checks the whole file (CSV, or GeoJSON when it ends in
/// `.geojson` or `.json`), then writes it.
pub fn import_grid_csv(store: &dyn Store, path: &Path) -> Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let geo = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json"));
    let rows = if geo {
        parse_grid_geojson(&text)
    } else {
        parse_grid_csv(&text)
    }
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for chunk in rows.chunks(10_000) {
        store.put_grid_cells(chunk).context("writing grid cells")?;
    }
    Ok(rows.len())
}

/// `xikang duties …`.
#[derive(Debug, clap::Subcommand)]
pub enum DutyCmd {
    /// Register a quarantine site (集中隔离点 or 健康驿站).
    SiteAdd {
        #[arg(long)]
        name: String,
        /// centralized or health_station.
        #[arg(long, default_value = "centralized")]
        kind: String,
        /// Area code of the site.
        #[arg(long)]
        area: String,
        #[arg(long)]
        lat: f64,
        #[arg(long)]
        lon: f64,
        #[arg(long)]
        capacity: u32,
        /// The site manager's user name.
        #[arg(long)]
        manager: Option<String>,
    },
    /// List quarantine sites with capacity and occupancy.
    Sites,
    /// Set an origin's risk level on the list arrivals are checked against.
    OriginSet {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// high, medium or low.
        #[arg(long)]
        risk: String,
    },
    /// Register a venue (by id) as a sentinel: pharmacy or fever_clinic.
    SentinelAdd {
        #[arg(long)]
        venue: u32,
        #[arg(long)]
        kind: String,
    },
    /// A grid worker's open tasks, earliest due first.
    Tasks {
        #[arg(long)]
        worker: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Runs a `xikang duties` subcommand against the store.
pub fn run(store: &dyn Store, cmd: DutyCmd) -> Result<()> {
    use xikang_domain::duties::{SiteKind, variant};
    let now = xikang_server::now();
    match cmd {
        DutyCmd::SiteAdd {
            name,
            kind,
            area,
            lat,
            lon,
            capacity,
            manager,
        } => {
            let kind = SiteKind::parse(&kind)
                .context("kind is centralized, health_station or designated_hospital")?;
            if name.trim().is_empty() || capacity == 0 || !(lat.abs() <= 90.0 && lon.abs() <= 180.0)
            {
                bail!("a site needs a name, a capacity of at least 1 and a position in range");
            }
            let id = xikang_domain::SiteId(store.next_duty_id("site")?);
            store.put_site(&xikang_store::SiteRecord {
                id,
                name: name.trim().to_owned(),
                kind,
                area: xikang_domain::AreaCode::parse(&area)?,
                lat,
                lon,
                capacity,
                occupancy: 0,
                manager,
            })?;
            println!("site {id} registered");
        }
        DutyCmd::Sites => {
            for s in store.sites()? {
                println!(
                    "{}\t{}\t{}\t{}/{}\t{}",
                    s.id,
                    s.kind.as_str(),
                    s.area,
                    s.occupancy,
                    s.capacity,
                    s.name
                );
            }
        }
        DutyCmd::OriginSet { code, name, risk } => {
            xikang_domain::AreaCode::parse(&code)?;
            let risk = variant(&risk).context("risk is high, medium or low")?;
            store.put_origin(&xikang_store::OriginRecord {
                code: code.clone(),
                name,
                risk,
                updated_at: now,
                updated_by: "cli".into(),
            })?;
            println!("origin {code} set");
        }
        DutyCmd::SentinelAdd { venue, kind } => {
            let venue = xikang_domain::VenueId(venue);
            if store.venue(venue)?.is_none() {
                bail!("no venue {venue}");
            }
            let kind = variant(&kind).context("kind is pharmacy or fever_clinic")?;
            store.put_sentinel(&xikang_store::SentinelRecord {
                venue,
                kind,
                registered_at: now,
                registered_by: "cli".into(),
            })?;
            println!("sentinel {venue} registered");
        }
        DutyCmd::Tasks { worker, limit } => {
            let cells = store.cells_of_worker(&worker)?;
            if cells.is_empty() {
                bail!("{worker} is assigned to no grid cell");
            }
            for t in store.open_tasks_of_cells(&cells, limit.clamp(1, 500))? {
                println!(
                    "{}\tcell {}\tdue {}\t{}\t{}",
                    t.id,
                    t.cell.0,
                    t.due_at.to_shanghai_rfc3339(),
                    t.kind.as_str(),
                    t.detail
                );
            }
        }
    }
    Ok(())
}

/// Arguments of `xikang bench-duties`.
#[derive(Debug, Clone, clap::Args)]
pub struct DutyBenchArgs {
    /// Residents of the city.
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u32,
    /// Residents to seal (contiguous grid cells are added until this many live inside).
    #[arg(long, default_value_t = 200_000)]
    pub seal: u32,
    /// Open tasks city-wide before the task list is timed.
    #[arg(long, default_value_t = 1_000_000)]
    pub open_tasks: u32,
    /// Task-list requests to time.
    #[arg(long, default_value_t = 200)]
    pub requests: u32,
    /// PostgreSQL URL; default a temporary SQLite directory.
    #[arg(long)]
    pub database_url: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub json: crate::bench_json::JsonOut,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

/// Runs the benchmark and prints its figures.
pub fn bench(args: &DutyBenchArgs) -> Result<()> {
    if args.people == 0 || args.seal == 0 || args.seal > args.people {
        bail!("--people must be at least 1 and --seal between 1 and --people");
    }
    let dir = tempfile::tempdir().context("temporary directory")?;
    let target = match &args.database_url {
        Some(url) => Target::Postgres(url.clone()),
        None => Target::Sqlite(dir.path().to_path_buf()),
    };
    let store: Arc<dyn Store> = Arc::from(xikang_store::open(&target)?);
    if store.count_people()? > 0 {
        bail!("the benchmark needs an empty store");
    }
    let mut results = crate::bench_json::Results::new(
        "bench-duties",
        serde_json::json!({"people": args.people, "seal": args.seal, "open_tasks": args.open_tasks,
            "requests": args.requests, "seed": args.seed,
            "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" }}),
    );
    let now = xikang_server::now();
    let cfg = CityConfig {
        people: args.people,
        days: 1,
        seed: args.seed,
        first_day: CivilDay(now.shanghai_day().0),
    };
    let t = Instant::now();
    let city = generate_city(&cfg);
    let secrets = xikang_server::load_or_create_secrets(store.as_ref())?;
    let rows: Vec<_> = city
        .people
        .iter()
        .map(|p| (p.clone(), p.id_number.keyed_hash(&secrets.id_hash_key)))
        .collect();
    for chunk in rows.chunks(50_000) {
        store.insert_people(chunk)?;
    }
    drop(rows);
    store.insert_venues(&city.venues)?;
    insert_grid(store.as_ref(), &city)?;
    println!(
        "city: {} residents, {} grid cells ({:.1} s)",
        city.people.len(),
        city.cells.len(),
        t.elapsed().as_secs_f64()
    );

    // Open tasks spread over every cell, as a city mid-outbreak would have.
    let t = Instant::now();
    let cells = city.cells.len() as u32;
    let mut made = 0u32;
    while made < args.open_tasks {
        let n = (args.open_tasks - made).min(100_000);
        let batch: Vec<NewTask> = (made..made + n)
            .map(|k| NewTask {
                cell: GridCell(k % cells),
                kind: TaskKind::HomeIsolationCheck,
                person: Some(PersonId(k % args.people)),
                household: None,
                detail: "home-isolation check".into(),
                created_at: now,
                due_at: now.plus(i64::from(k % 48) * HOUR),
                dedupe: None,
            })
            .collect();
        store.commit_duties(&[DutyOp::InsertTasks(batch)], &[])?;
        made += n;
    }
    println!(
        "open tasks: {} ({:.1} s to insert)",
        store.count_open_tasks()?,
        t.elapsed().as_secs_f64()
    );

    // A policy whose sealed zones lift at once, so that lifting can be timed today; every
    // other number is the shipped default.
    let text = DEFAULT_POLICY_TOML.replace(
        "[duties.lift.sealed]\ndays_without_case = 14\nlast_contact_days = 14\nnegative_round_days = 2",
        "[duties.lift.sealed]\ndays_without_case = 0",
    );
    if text == DEFAULT_POLICY_TOML {
        bail!("the bench could not adapt the default policy's lifting rule");
    }
    let policy = Policy::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = Instant::now();
    let state = Arc::new(AppState::load(
        store.clone(),
        ServerConfig::default(),
        policy,
        &xikang_server::state::policy_sha256(&text),
        now,
    )?);
    println!("state loaded in {:.1} s", t.elapsed().as_secs_f64());

    // Contiguous cells until `seal` residents live inside.
    let mut per_cell = vec![0u32; city.cells.len()];
    for p in &city.people {
        per_cell[p.home_cell.0 as usize] += 1;
    }
    let mut zone_cells = Vec::new();
    let mut inside = 0u32;
    for (c, n) in per_cell.iter().enumerate() {
        if inside >= args.seal {
            break;
        }
        zone_cells.push(GridCell(c as u32));
        inside += n;
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let worker_cell = GridCell(cells / 2);
    let worker = xikang_sim::worker_of(worker_cell);
    let token = "xk_bench_grid_worker";
    store.put_api_token(
        token_digest(token),
        &ApiToken {
            name: worker,
            role: "grid_worker".into(),
            area: xikang_domain::AreaCode::parse("320200")?,
            venue: None,
            person: None,
            id_lookup: false,
            enterprise: None,
            created_at: xikang_server::now(),
            expires_at: xikang_server::now().plus(3_600),
        },
    )?;
    rt.block_on(async {
        // A zone drawn by hand is a proposal; the second official's approval seals it.
        let draft = xikang_server::duties::ZoneDraft {
            cells: zone_cells.clone(),
            name: "bench zone".into(),
        };
        let drawn = xikang_server::duties::propose_draw(
            &state,
            "admin:bench".into(),
            draft,
            ZoneLevel::Sealed,
            xikang_server::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("drawing failed: {e:?}"))?;
        let t = Instant::now();
        let sealed = xikang_server::duties::approve_proposal(
            &state,
            &drawn,
            "admin:bench-second".into(),
            xikang_server::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("sealing failed: {e:?}"))?;
        let seal_s = t.elapsed().as_secs_f64();
        results.set("seal_s", seal_s);
        results.set("sealed_residents", sealed.residents);
        let red = count_colour(&state, &zone_cells, xikang_domain::Colour::Red);
        println!(
            "seal (a second official approves the drawn zone): {} residents in {} cells, {} tasks created, {} residents now red: {:.3} s (target ≤ 2 s)",
            sealed.residents,
            zone_cells.len(),
            sealed.tasks,
            red,
            seal_s
        );

        // The task list through the real HTTP endpoint.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let s = state.clone();
        tokio::spawn(async move { xikang_server::serve(listener, s, std::future::pending()).await });
        let mut conn = crate::httpc::Conn::connect(&addr).await?;
        let mut times = Vec::with_capacity(args.requests as usize);
        let mut listed = 0;
        for _ in 0..args.requests {
            let t = Instant::now();
            let r = conn.get("/api/v1/grid/tasks?limit=100", Some(token)).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if r.status != 200 {
                bail!("task list answered {}: {}", r.status, r.text());
            }
            listed = r.json()["tasks"].as_array().map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        results.set("task_list_median_ms", pct(&times, 0.5));
        results.set("task_list_p99_ms", pct(&times, 0.99));
        let store = state.store.clone();
        let open = tokio::task::spawn_blocking(move || store.count_open_tasks()).await??;
        println!(
            "task list over HTTP ({} open tasks city-wide, {listed} listed): median {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} requests (target ≤ 20 ms)",
            open,
            pct(&times, 0.5),
            pct(&times, 0.99),
            times.last().copied().unwrap_or(0.0),
            times.len()
        );

        // Lifting: the system proposes, a second official approves.
        let now = xikang_server::now();
        let proposed = xikang_server::duties::propose_zone_changes(&state, now)
            .await
            .map_err(|e| anyhow::anyhow!("proposing failed: {e:?}"))?;
        let store = state.store.clone();
        let proposal = tokio::task::spawn_blocking(move || store.proposals(None))
            .await??
            .into_iter()
            .find(|p| p.decided_at.is_none())
            .context("no proposal was made")?;
        let t = Instant::now();
        xikang_server::duties::approve_proposal(&state, &proposal, "admin:bench-approver".into(), now)
            .await
            .map_err(|e| anyhow::anyhow!("approval failed: {e:?}"))?;
        let lift_s = t.elapsed().as_secs_f64();
        results.set("lift_s", lift_s);
        let still_red = count_colour(&state, &zone_cells, xikang_domain::Colour::Red);
        println!(
            "lift: proposed by the system ({proposed} by this pass; the server's own sweep may have been first); approval applied to {} residents in {:.3} s (target ≤ 2 s); {} still red",
            sealed.residents, lift_s, still_red
        );
        Ok::<_, anyhow::Error>(())
    })?;
    args.json.write(&results)?;
    Ok(())
}

fn count_colour(state: &AppState, cells: &[GridCell], colour: xikang_domain::Colour) -> usize {
    let set: std::collections::HashSet<GridCell> = cells.iter().copied().collect();
    let now = xikang_server::now();
    let people = xikang_server::state::read(&state.projection.people);
    let policy = state.policy();
    people
        .iter()
        .filter(|s| s.community != u32::MAX && set.contains(&s.home_cell))
        .filter(|s| xikang_domain::policy::evaluate(&policy, &s.facts, now).colour == colour)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_csv_with_quotes_parses_and_a_bad_row_names_its_line() {
        let ok = "\u{feff}cell,community,name,lat,lon,worker\r\n1,320213001001,\"崇安寺, 第1网格\",31.5,120.3,gw1\r\n2,320213001001,第2网格,31.6,120.3,\r\n";
        let rows = parse_grid_csv(ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "崇安寺, 第1网格");
        assert_eq!(rows[1].worker, None);
        let bad = "cell,community,name,lat,lon,worker\n1,320213001001,a,31.5,120.3,gw1\n2,3202,b,31.5,120.3,gw2\n";
        let e = parse_grid_csv(bad).err().unwrap_or_default();
        assert!(e.starts_with("line 3:"), "{e}");
        let dup = "cell,community,name,lat,lon,worker\n1,320213001001,a,31.5,120.3,\n1,320213001001,b,31.5,120.3,\n";
        assert!(
            parse_grid_csv(dup)
                .err()
                .unwrap_or_default()
                .contains("twice")
        );
        assert!(parse_grid_csv("a,b\n").is_err());
    }

    #[test]
    fn a_geojson_grid_takes_each_cells_centroid_and_refuses_a_self_intersecting_cell() {
        let square = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"cell": 7, "community": "320213001001", "name": "第7网格", "worker": "gw7"},
            "geometry": {"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.1, 31.0], [120.1, 31.1], [120.0, 31.1], [120.0, 31.0]]]}}]}"#;
        let rows = parse_grid_geojson(square).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0].cell, GridCell(7));
        assert!((rows[0].lon - 120.05).abs() < 1e-9 && (rows[0].lat - 31.05).abs() < 1e-9);
        assert_eq!(rows[0].worker.as_deref(), Some("gw7"));
        let bow_tie = square.replace(
            "[120.1, 31.0], [120.1, 31.1]",
            "[120.1, 31.1], [120.1, 31.0]",
        );
        let e = parse_grid_geojson(&bow_tie).err().unwrap_or_default();
        assert!(e.contains("intersects itself"), "{e}");
    }
}
