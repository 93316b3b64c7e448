//! [`DutyStore`] for every backend that provides [`DutyBackend`]: the reads and
//! [`DutyStore::commit_duties`], written once against [`Sql`].

use super::apply::{apply_ops, reserve_ids};
use super::decode::*;
use super::*;
// ---------------------------------------------------------------------------------------
// The trait, once for both backends.

impl<B: DutyBackend> DutyStore for B {
    fn put_grid_cells(&self, cells: &[GridCellRecord]) -> Result<()> {
        self.with_tx(|sql| {
            for c in cells {
                sql.exec("delete from grid_cells where cell = $1", &[i(c.cell.0)])?;
                sql.exec(
                    &format!(
                        "insert into grid_cells ({CELL_COLUMNS}) values ({})",
                        placeholders(1, 6)
                    ),
                    &[
                        i(c.cell.0),
                        t(c.community.as_str()),
                        t(&c.name),
                        Val::F(c.lat),
                        Val::F(c.lon),
                        ot(c.worker.as_deref()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn grid_cells(&self) -> Result<Vec<GridCellRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {CELL_COLUMNS} from grid_cells order by cell"),
                    &[],
                )?,
                cell_of,
            )
        })
    }

    fn put_area_names(&self, names: &[(AreaCode, String)]) -> Result<()> {
        self.with_tx(|sql| {
            for (code, name) in names {
                sql.exec(
                    "delete from area_names where code = $1",
                    &[t(code.as_str())],
                )?;
                sql.exec(
                    "insert into area_names (code, name) values ($1, $2)",
                    &[t(code.as_str()), t(name)],
                )?;
            }
            Ok(())
        })
    }

    fn area_names(&self) -> Result<Vec<(AreaCode, String)>> {
        self.with_read(|sql| {
            all(
                sql.rows("select code, name from area_names order by code", &[])?,
                |r| {
                    let mut c = Cols::new(r);
                    Ok((c.area()?, c.t()?))
                },
            )
        })
    }

    fn put_district_outlines(&self, outlines: &[(AreaCode, String)]) -> Result<()> {
        self.with_tx(|sql| {
            sql.exec("delete from district_outlines", &[])?;
            for (code, geometry) in outlines {
                sql.exec(
                    "insert into district_outlines (code, geometry) values ($1, $2)",
                    &[t(code.as_str()), t(geometry)],
                )?;
            }
            Ok(())
        })
    }

    fn district_outlines(&self) -> Result<Vec<(AreaCode, String)>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    "select code, geometry from district_outlines order by code",
                    &[],
                )?,
                |r| {
                    let mut c = Cols::new(r);
                    Ok((c.area()?, c.t()?))
                },
            )
        })
    }

    fn cells_of_worker(&self, worker: &str) -> Result<Vec<GridCell>> {
        self.with_read(|sql| {
            sql.rows(
                "select cell from grid_cells where worker = $1 order by cell",
                &[t(worker)],
            )?
            .iter()
            .map(|r| Cols::new(r).u32().map(GridCell))
            .collect()
        })
    }

    fn put_site(&self, s: &SiteRecord) -> Result<()> {
        self.with_tx(|sql| {
            let n = sql.exec(
                "update quarantine_sites set name = $1, kind = $2, area = $3, lat = $4, lon = $5,
                 capacity = $6, manager = $7 where id = $8",
                &[
                    t(&s.name),
                    t(s.kind.as_str()),
                    t(s.area.as_str()),
                    Val::F(s.lat),
                    Val::F(s.lon),
                    i(s.capacity),
                    ot(s.manager.as_deref()),
                    u64_i(s.id.0),
                ],
            )?;
            if n == 0 {
                sql.exec(
                    &format!(
                        "insert into quarantine_sites ({SITE_COLUMNS}) values ({})",
                        placeholders(1, 9)
                    ),
                    &[
                        u64_i(s.id.0),
                        t(&s.name),
                        t(s.kind.as_str()),
                        t(s.area.as_str()),
                        Val::F(s.lat),
                        Val::F(s.lon),
                        i(s.capacity),
                        i(0),
                        ot(s.manager.as_deref()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn sites(&self) -> Result<Vec<SiteRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {SITE_COLUMNS} from quarantine_sites order by id"),
                    &[],
                )?,
                site_of,
            )
        })
    }

    fn next_duty_id(&self, kind: &str) -> Result<u64> {
        let first = self.with_tx(|sql| reserve_ids(sql, kind, 1))?;
        u64::try_from(first).map_err(|_| StoreError::Corrupt("negative id".into()))
    }

    fn commit_duties(&self, ops: &[DutyOp], events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        self.with_tx(|sql| {
            apply_ops(sql, ops)?;
            sql.append_events(events)
        })
    }

    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {ORDER_COLUMNS} from quarantine_orders where id = $1"),
                    &[u64_i(id.0)],
                )?,
                order_of,
            )
        })
    }

    fn orders(&self, f: &OrderFilter) -> Result<Vec<OrderRecord>> {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(p) = f.person {
            params.push(i(p.0));
            conds.push(format!("person = ${}", params.len()));
        }
        if let Some(s) = f.site {
            params.push(u64_i(s.0));
            conds.push(format!("site = ${}", params.len()));
        }
        if f.active_only {
            conds.push("status = 'active'".to_owned());
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("where {}", conds.join(" and "))
        };
        params.push(i(if f.limit == 0 { 1000 } else { f.limit }));
        let sql_text = format!(
            "select {ORDER_COLUMNS} from quarantine_orders {filter} order by id desc limit ${}",
            params.len()
        );
        self.with_read(|sql| all(sql.rows(&sql_text, &params)?, order_of))
    }

    fn reports_of(&self, person: PersonId) -> Result<Vec<ReportRecord>> {
        self.with_read(|sql| {
            sql.rows(
                "select at, temperature_tenths, symptoms, reporter from health_reports
                 where person = $1 order by at",
                &[i(person.0)],
            )?
            .iter()
            .map(|r| {
                let mut c = Cols::new(r);
                let at = c.ts()?;
                let temp = c.i()?;
                let symptoms = c.t()?;
                Ok(ReportRecord {
                    person,
                    at,
                    temperature_tenths: u16::try_from(temp)
                        .map_err(|_| StoreError::Corrupt(format!("temperature {temp}")))?,
                    symptoms: symptoms
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    reporter: c.t()?,
                })
            })
            .collect()
        })
    }

    fn reporters_on(&self, day: CivilDay) -> Result<Vec<PersonId>> {
        self.with_read(|sql| {
            sql.rows(
                "select distinct person from health_reports where day = $1 order by person",
                &[i(day.0)],
            )?
            .iter()
            .map(|r| Cols::new(r).u32().map(PersonId))
            .collect()
        })
    }

    fn open_tasks_of_cells(&self, cells: &[GridCell], limit: u32) -> Result<Vec<TaskRecord>> {
        if cells.is_empty() {
            return Ok(Vec::new());
        }
        // One indexed range per cell (the partial index on open tasks is keyed by cell and
        // due time), merged here: the cost does not depend on the number of open tasks
        // elsewhere in the city.
        let mut out = Vec::new();
        self.with_read(|sql| {
            for c in cells {
                let rows = sql.rows(
                    &format!(
                        "select {TASK_COLUMNS} from grid_tasks where cell = $1 and done_at is null
                         order by due_at, id limit $2"
                    ),
                    &[i(c.0), i(limit)],
                )?;
                out.extend(all(rows, task_of)?);
            }
            Ok(())
        })?;
        out.sort_by_key(|t| (t.due_at, t.id));
        out.truncate(limit as usize);
        Ok(out)
    }

    fn task(&self, id: TaskId) -> Result<Option<TaskRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {TASK_COLUMNS} from grid_tasks where id = $1"),
                    &[u64_i(id.0)],
                )?,
                task_of,
            )
        })
    }

    fn overdue_by_cell(&self, now: Timestamp) -> Result<Vec<(GridCell, u64)>> {
        self.with_read(|sql| {
            sql.rows(
                "select cell, count(*) from grid_tasks where done_at is null and due_at < $1
                 group by cell order by cell",
                &[i(now.0)],
            )?
            .iter()
            .map(|r| {
                let mut c = Cols::new(r);
                Ok((GridCell(c.u32()?), c.u64()?))
            })
            .collect()
        })
    }

    fn count_open_tasks(&self) -> Result<u64> {
        self.with_read(|sql| {
            let rows = sql.rows("select count(*) from grid_tasks where done_at is null", &[])?;
            rows.first().map_or(Ok(0), |r| Cols::new(r).u64())
        })
    }

    fn households_in_cells(&self, cells: &[GridCell]) -> Result<Vec<(HouseholdId, GridCell)>> {
        let mut out = Vec::new();
        self.with_read(|sql| {
            for chunk in cells.chunks(500) {
                let params: Vec<Val> = chunk.iter().map(|c| i(c.0)).collect();
                let rows = sql.rows(
                    &format!(
                        "select household, min(home_cell) from people where home_cell in ({})
                         group by household order by household",
                        placeholders(1, chunk.len())
                    ),
                    &params,
                )?;
                for r in &rows {
                    let mut c = Cols::new(r);
                    out.push((HouseholdId(c.u32()?), GridCell(c.u32()?)));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn zones(&self) -> Result<Vec<ZoneRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {ZONE_COLUMNS} from zones order by id"),
                    &[],
                )?,
                zone_of,
            )
        })
    }

    fn proposals(&self, zone: Option<ZoneId>) -> Result<Vec<ProposalRecord>> {
        self.with_read(|sql| {
            let rows = match zone {
                Some(z) => sql.rows(
                    &format!(
                        "select {PROPOSAL_COLUMNS} from zone_proposals where zone = $1 order by id desc"
                    ),
                    &[u64_i(z.0)],
                )?,
                None => sql.rows(
                    &format!("select {PROPOSAL_COLUMNS} from zone_proposals order by id desc"),
                    &[],
                )?,
            };
            all(rows, proposal_of)
        })
    }

    fn put_origin(&self, o: &OriginRecord) -> Result<()> {
        self.with_tx(|sql| {
            sql.exec("delete from origins where code = $1", &[t(&o.code)])?;
            sql.exec(
                "insert into origins (code, name, risk, updated_at, updated_by) values ($1, $2, $3, $4, $5)",
                &[
                    t(&o.code),
                    t(&o.name),
                    name(&o.risk),
                    i(o.updated_at.0),
                    t(&o.updated_by),
                ],
            )?;
            Ok(())
        })
    }

    fn origin(&self, code: &str) -> Result<Option<OriginRecord>> {
        Ok(self.origins_where(Some(code))?.into_iter().next())
    }

    fn origins(&self) -> Result<Vec<OriginRecord>> {
        self.origins_where(None)
    }

    fn arrival(&self, id: ArrivalId) -> Result<Option<ArrivalRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {ARRIVAL_COLUMNS} from arrivals where id = $1"),
                    &[u64_i(id.0)],
                )?,
                arrival_of,
            )
        })
    }

    fn arrived_since(&self, since: Timestamp) -> Result<Vec<ArrivalRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!(
                        "select {ARRIVAL_COLUMNS} from arrivals where arrived_at >= $1 order by id"
                    ),
                    &[i(since.0)],
                )?,
                arrival_of,
            )
        })
    }

    fn put_sentinel(&self, s: &SentinelRecord) -> Result<()> {
        self.with_tx(|sql| {
            sql.exec("delete from sentinels where venue = $1", &[i(s.venue.0)])?;
            sql.exec(
                "insert into sentinels (venue, kind, registered_at, registered_by) values ($1, $2, $3, $4)",
                &[
                    i(s.venue.0),
                    name(&s.kind),
                    i(s.registered_at.0),
                    t(&s.registered_by),
                ],
            )?;
            Ok(())
        })
    }

    fn sentinel(&self, venue: VenueId) -> Result<Option<SentinelRecord>> {
        self.with_read(|sql| {
            sql.rows(
                "select venue, kind, registered_at, registered_by from sentinels where venue = $1",
                &[i(venue.0)],
            )?
            .first()
            .map(|r| {
                let mut c = Cols::new(r);
                Ok(SentinelRecord {
                    venue: VenueId(c.u32()?),
                    kind: c.en("sentinel kind")?,
                    registered_at: c.ts()?,
                    registered_by: c.t()?,
                })
            })
            .transpose()
        })
    }
}

/// Helpers shared by the blanket implementation.
trait OriginsWhere {
    fn origins_where(&self, code: Option<&str>) -> Result<Vec<OriginRecord>>;
}

impl<B: DutyBackend> OriginsWhere for B {
    fn origins_where(&self, code: Option<&str>) -> Result<Vec<OriginRecord>> {
        self.with_read(|sql| {
            let rows = match code {
                Some(c) => sql.rows(
                    "select code, name, risk, updated_at, updated_by from origins where code = $1",
                    &[t(c)],
                )?,
                None => sql.rows(
                    "select code, name, risk, updated_at, updated_by from origins order by code",
                    &[],
                )?,
            };
            rows.iter()
                .map(|r| {
                    let mut c = Cols::new(r);
                    Ok(OriginRecord {
                        code: c.t()?,
                        name: c.t()?,
                        risk: c.en("risk level")?,
                        updated_at: c.ts()?,
                        updated_by: c.t()?,
                    })
                })
                .collect()
        })
    }
}
