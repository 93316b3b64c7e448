//! Citizens and enterprises (docs/citizens.md): the message board (民声留言板,
//! [`messages`]) and enterprises' filings to resume work (复工备案, [`enterprise`]).
//!
//! Both are folded from the authority log into [`Board`], kept in the projection
//! ([`crate::app::projection::Projection::board`]): every post, acceptance, reply, transfer,
//! closing, escalation, filing and decision is an event, so who did what and when is in the
//! hash-chained log, and a second node following the log holds the same board.

pub mod capacity;
pub mod doc;
pub mod enterprise;
pub mod exchange;
pub mod messages;
pub mod photos;
pub mod quarterly;
pub mod responsibility;
pub mod supervision;
pub mod supplies;
pub mod venues;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};
use std::collections::BTreeMap;
use std::sync::Arc;
use xikang_domain::board::{Category, Department, MessageAction, MessageStatus};
use xikang_domain::enterprise::{FilingStatus, Industry};
use xikang_domain::event::{EventBody, StoredEvent};
use xikang_domain::{AreaCode, CaseId, EventSeq, PersonId, Timestamp, VenueId};

/// A message as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The sequence number of its posting event: the message's number.
    pub id: EventSeq,
    pub posted_at: Timestamp,
    pub category: Category,
    pub title: String,
    pub text: String,
    pub department: Department,
    /// The district (or the city) whose staff answer it.
    pub area: AreaCode,
    pub due_at: Timestamp,
    pub status: MessageStatus,
    pub accepted_at: Option<Timestamp>,
    /// The latest public reply: text, when, who.
    pub reply: Option<(String, Timestamp, String)>,
    pub closed_at: Option<Timestamp>,
    /// When the sweep raised it past its deadline (督办).
    pub escalated_at: Option<Timestamp>,
    pub transfers: u32,
}

impl Message {
    /// When it was first answered (a reply or a closing), for the deadline.
    pub fn answered_at(&self) -> Option<Timestamp> {
        match (self.reply.as_ref().map(|r| r.1), self.closed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A filing to resume work as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    /// The sequence number of its submission event.
    pub id: EventSeq,
    pub filed_at: Timestamp,
    pub filed_by: String,
    pub enterprise: String,
    pub credit_code: String,
    pub industry: Industry,
    pub area: AreaCode,
    pub site: String,
    pub responsible: String,
    pub measures: String,
    pub workers: Vec<PersonId>,
    pub status: FilingStatus,
    /// The decision: approved or returned, the reason, who, when.
    pub decision: Option<(String, String, Timestamp)>,
}

/// The board, folded from the log.
#[derive(Debug, Default)]
pub struct Board {
    pub messages: BTreeMap<EventSeq, Message>,
    pub filings: BTreeMap<EventSeq, Filing>,
    /// Each enterprise's latest filing, by credit code: what 复工率 counts.
    pub latest: BTreeMap<String, EventSeq>,
    pub inspections: BTreeMap<EventSeq, Inspection>,
    /// When each case's first close contact was designated (its 四早 "contacts listed").
    pub listed: BTreeMap<CaseId, Timestamp>,
    /// The answered messages by (latest reply, message): the public list's order, kept so
    /// a page of it costs a walk, not a sort of every answer.
    pub answered: std::collections::BTreeSet<(Timestamp, EventSeq)>,
    /// Responsibility lists' items (责任清单), by their assignment's number.
    pub items: BTreeMap<EventSeq, Item>,
    /// The supply–demand board's posts, oldest first.
    pub exchange: Vec<exchange::Post>,
    /// Supply requests, oldest first.
    pub supplies: Vec<SupplyRequest>,
    /// Resources reported by count, by (resource, site, name).
    pub reported: BTreeMap<
        (
            xikang_domain::capacity::Resource,
            Option<xikang_domain::SiteId>,
            String,
        ),
        Reported,
    >,
    /// Messages received and closed, all time: the public page's sentence.
    pub received: u64,
    pub closed: u64,
}

/// An item of a responsibility list as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: EventSeq,
    pub assigned_at: Timestamp,
    pub by: String,
    pub department: Department,
    pub owner: String,
    pub what: String,
    pub area: AreaCode,
    pub deadline: Timestamp,
    /// The owner's note and when it was done.
    pub done: Option<(String, Timestamp)>,
    /// When the sweep raised it to the supervisor.
    pub escalated_at: Option<Timestamp>,
}

/// A venue inspection (明察暗访) as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub id: EventSeq,
    pub at: Timestamp,
    pub by: String,
    pub venue: VenueId,
    pub unannounced: bool,
    pub findings: String,
    pub passed: bool,
    pub rectify_by: Option<Timestamp>,
    pub follows: Option<EventSeq>,
    /// The photos' SHA-256 (hex), as stored in the data directory ([`photos`]).
    pub photos: Vec<String>,
}

/// A supply request of a sealed or isolated household (保供), as the log keeps it; its
/// delivery is a grid task of the home cell.
#[derive(Debug, Clone, PartialEq)]
pub struct SupplyRequest {
    pub id: EventSeq,
    pub at: Timestamp,
    pub by: String,
    pub person: PersonId,
    pub need: xikang_domain::event::SupplyNeed,
    pub items: String,
    pub due_at: Timestamp,
}

/// A resource's readings as facilities reported them ([`EventBody::CapacityReported`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub resource: xikang_domain::capacity::Resource,
    pub name: String,
    pub area: AreaCode,
    pub site: Option<xikang_domain::SiteId>,
    /// `(when, total, in_use)`, oldest first.
    pub readings: Vec<(Timestamp, u32, u32)>,
}

/// What the board keeps that is not folded from the log: posts per address, and the
/// silent venues the last sweep found.
#[derive(Debug, Default)]
pub struct Runtime {
    pub posts: messages::PostLimit,
    pub silent: std::sync::RwLock<venues::SilentReport>,
}

impl Board {
    /// Whether an event is the board's.
    pub fn concerns(body: &EventBody) -> bool {
        matches!(
            body,
            EventBody::MessagePosted { .. }
                | EventBody::MessageHandled { .. }
                | EventBody::FilingSubmitted { .. }
                | EventBody::FilingDecided { .. }
                | EventBody::InspectionRecorded { .. }
                | EventBody::ResponsibilityAssigned { .. }
                | EventBody::ResponsibilityUpdated { .. }
                | EventBody::ExchangePosted { .. }
                | EventBody::ExchangeClosed { .. }
                | EventBody::CapacityReported { .. }
                | EventBody::SupplyRequested { .. }
        )
    }

    /// Folds one of the board's events.
    pub fn apply(&mut self, e: &StoredEvent) {
        match &e.body {
            EventBody::MessagePosted {
                category,
                title,
                text,
                department,
                area,
                due_at,
            } => {
                self.received += 1;
                self.messages.insert(
                    e.seq,
                    Message {
                        id: e.seq,
                        posted_at: e.at,
                        category: *category,
                        title: title.clone(),
                        text: text.clone(),
                        department: *department,
                        area: area.clone(),
                        due_at: *due_at,
                        status: MessageStatus::New,
                        accepted_at: None,
                        reply: None,
                        closed_at: None,
                        escalated_at: None,
                        transfers: 0,
                    },
                );
            }
            EventBody::MessageHandled {
                message,
                action,
                text,
                department,
                area,
            } => {
                let Some(m) = self.messages.get_mut(message) else {
                    return;
                };
                let was_closed = m.status == MessageStatus::Closed;
                m.status = m.status.after(*action);
                if !was_closed && m.status == MessageStatus::Closed {
                    self.closed += 1;
                }
                match action {
                    MessageAction::Accept => m.accepted_at = Some(e.at),
                    MessageAction::Reply => {
                        if let Some((_, at, _)) = &m.reply {
                            self.answered.remove(&(*at, m.id));
                        }
                        self.answered.insert((e.at, m.id));
                        m.reply = Some((text.clone().unwrap_or_default(), e.at, e.actor.clone()));
                    }
                    MessageAction::Close => m.closed_at = Some(e.at),
                    MessageAction::Escalate => {
                        m.escalated_at.get_or_insert(e.at);
                    }
                    MessageAction::Transfer => {
                        m.transfers += 1;
                        if let Some(d) = department {
                            m.department = *d;
                        }
                        if let Some(a) = area {
                            m.area = a.clone();
                        }
                    }
                }
            }
            EventBody::FilingSubmitted {
                enterprise,
                credit_code,
                industry,
                area,
                site,
                responsible,
                measures,
                workers,
            } => {
                self.filings.insert(
                    e.seq,
                    Filing {
                        id: e.seq,
                        filed_at: e.at,
                        filed_by: e.actor.clone(),
                        enterprise: enterprise.clone(),
                        credit_code: credit_code.clone(),
                        industry: *industry,
                        area: area.clone(),
                        site: site.clone(),
                        responsible: responsible.clone(),
                        measures: measures.clone(),
                        workers: workers.clone(),
                        status: FilingStatus::Pending,
                        decision: None,
                    },
                );
                self.latest.insert(credit_code.clone(), e.seq);
            }
            EventBody::FilingDecided {
                filing,
                approved,
                reason,
            } => {
                if let Some(f) = self.filings.get_mut(filing) {
                    f.status = if *approved {
                        FilingStatus::Approved
                    } else {
                        FilingStatus::Returned
                    };
                    f.decision = Some((reason.clone(), e.actor.clone(), e.at));
                }
            }
            EventBody::InspectionRecorded {
                venue,
                unannounced,
                findings,
                passed,
                rectify_by,
                follows,
                photos,
            } => {
                self.inspections.insert(
                    e.seq,
                    Inspection {
                        id: e.seq,
                        at: e.at,
                        by: e.actor.clone(),
                        venue: *venue,
                        unannounced: *unannounced,
                        findings: findings.clone(),
                        passed: *passed,
                        rectify_by: *rectify_by,
                        follows: *follows,
                        photos: photos.clone(),
                    },
                );
            }
            EventBody::ResponsibilityAssigned {
                department,
                owner,
                what,
                area,
                deadline,
            } => {
                self.items.insert(
                    e.seq,
                    Item {
                        id: e.seq,
                        assigned_at: e.at,
                        by: e.actor.clone(),
                        department: *department,
                        owner: owner.clone(),
                        what: what.clone(),
                        area: area.clone(),
                        deadline: *deadline,
                        done: None,
                        escalated_at: None,
                    },
                );
            }
            EventBody::ResponsibilityUpdated {
                item,
                escalated,
                note,
            } => {
                if let Some(i) = self.items.get_mut(item) {
                    if *escalated {
                        i.escalated_at.get_or_insert(e.at);
                    } else if i.done.is_none() {
                        i.done = Some((note.clone(), e.at));
                    }
                }
            }
            EventBody::ExchangePosted {
                credit_code,
                offer,
                item,
                quantity,
                area,
            } => {
                self.exchange.push(exchange::Post {
                    id: e.seq,
                    at: e.at,
                    credit_code: credit_code.clone(),
                    offer: *offer,
                    item: item.clone(),
                    quantity: *quantity,
                    area: area.clone(),
                    closed_at: None,
                });
            }
            EventBody::SupplyRequested {
                person,
                need,
                items,
                due_at,
            } => self.supplies.push(SupplyRequest {
                id: e.seq,
                at: e.at,
                by: e.actor.clone(),
                person: *person,
                need: *need,
                items: items.clone(),
                due_at: *due_at,
            }),
            EventBody::ExchangeClosed { post, .. } => {
                // Posts are appended in sequence order: found by binary search.
                if let Ok(i) = self.exchange.binary_search_by_key(post, |p| p.id)
                    && let Some(p) = self.exchange.get_mut(i)
                {
                    p.closed_at.get_or_insert(e.at);
                }
            }
            EventBody::CapacityReported {
                resource,
                name,
                area,
                site,
                total,
                in_use,
            } => {
                self.reported
                    .entry((*resource, *site, name.clone()))
                    .or_insert_with(|| Reported {
                        resource: *resource,
                        name: name.clone(),
                        area: area.clone(),
                        site: *site,
                        readings: Vec::new(),
                    })
                    .readings
                    .push((e.at, *total, *in_use));
            }
            _ => {}
        }
    }
}

/// Free text from a form or body: trimmed, 1 to `max` characters, or 400 `code`.
pub fn text(s: &str, max: usize, code: &'static str) -> Result<String, crate::error::AppError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(crate::error::AppError::bad(
            code,
            format!("write 1 to {max} characters"),
        ));
    }
    Ok(t.to_owned())
}

/// A page number from a query (1-based; absent = 1).
pub fn page_of(page: Option<u32>) -> usize {
    page.unwrap_or(1).max(1) as usize
}

/// Rows per list page.
pub const PAGE_SIZE: usize = 50;

/// The board's API routes (under `/api/v1`).
pub fn routes() -> Router<Arc<AppState>> {
    use messages as m;
    Router::new()
        .route("/messages", post(m::post_message).get(m::get_messages))
        .route("/messages/stats", get(m::get_stats))
        .route("/messages/public", get(m::get_public))
        .route("/messages/export", get(m::export_messages))
        .route("/messages/{id}", get(m::get_message))
        .route("/messages/{id}/{action}", post(m::post_action))
        .merge(enterprise::routes())
        .merge(venues::routes())
        .route(
            "/enterprises/exchange",
            post(exchange::post_exchange).get(exchange::get_exchange),
        )
        .route(
            "/enterprises/exchange/{id}/close",
            post(exchange::post_close),
        )
        .route("/capacity/reports", post(capacity::post_report))
        .route("/capacity/export", get(capacity::export_capacity))
        .route(
            "/supervision/items/export",
            get(responsibility::export_items),
        )
        .route(
            "/supervision/quarterly/export",
            get(quarterly::export_quarterly),
        )
        .route("/supervision/timers", get(supervision::get_timers))
        .route("/supervision/quarterly", get(quarterly::get_quarterly))
        .route(
            "/supervision/items",
            post(responsibility::post_item).get(responsibility::get_items),
        )
        .route(
            "/supervision/items/{id}/done",
            post(responsibility::post_done),
        )
        .route("/supply-requests", post(supplies::post_supply_request))
        .route("/capacity", get(capacity::get_capacity))
}
