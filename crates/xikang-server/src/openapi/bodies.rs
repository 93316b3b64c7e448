//! Every operation's request and answer types, one statement each, in the order of
//! [`super::OPERATIONS`]. A new endpoint adds its row here (docs/openapi.md); a test fails
//! while a documented operation has none.

use super::build::Doc;
use serde_json::json;

use crate::api::{
    access, bulletin, cases, checkpoint, course, log, people, results, tokens, venues,
};
use crate::board::{
    capacity, enterprise, exchange, messages, photos, quarterly, responsibility, supervision,
    supplies, venues as board_venues,
};
use crate::cities::{assist, entry, keys, passes, peers, rules};
use crate::duties::{arrivals, draw, grid, quarantine, sentinels, zones};
use crate::lab::http::{results as lab_results, rounds, tubes, vaccination};
use crate::trace::wire as tw;
use crate::wire::{self, ItemsOut};
use crate::{anomaly, appeal, card, claim, drill, holds, ledger, ping, policies, register, scan};
use crate::{duties::wire as dw, lab::http::wire as lw};

/// `POST /api/v1/scans` takes one scan or a batch of them.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the batch item by item"
)]
pub struct ScansIn {
    /// At most 1,000 scans; each is accepted or refused on its own.
    scans: Vec<scan::ScanItem>,
}

/// `POST /api/v1/pings`: a batch of location pings.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the batch item by item"
)]
pub struct PingsIn {
    /// At most 1,000 pings.
    pings: Vec<ping::PingIn>,
}

const CSV: &str = "text/csv";
const XLSX: &str = crate::table::XLSX_CONTENT_TYPE;

/// Describes every typed operation into `d`.
pub fn describe(d: &mut Doc) {
    ops(d);
    duty_ops(d);
    lab_ops(d);
    city_ops(d);
    board_ops(d);
}

fn ops(d: &mut Doc) {
    d.op("get", "/healthz").ok_media(200, "text/plain", "ok");
    d.op("get", "/readyz").ok_media(200, "text/plain", "ready");
    d.op("get", "/metrics")
        .ok_media(200, "text/plain", "Prometheus text format 0.0.4");
    d.op("get", "/api/v1/openapi.json")
        .ok_free(200, "This document (OpenAPI 3.1)");
    d.op("get", "/api/v1/trust").ok_free(
        200,
        "The trust list: the code-signing keys and their validity",
    );
    d.op("get", "/api/v1/policy").ok::<wire::PolicyOut>(200);
    d.op("post", "/api/v1/policies")
        .json::<policies::UploadIn>(
            json!({"text": "version = \"2022-11-twenty\"\n# … the whole policy file\n"}),
        )
        .also::<policies::VersionOut>(200, "The same text was already stored under this version")
        .ok::<policies::VersionOut>(201);
    d.op("get", "/api/v1/policies")
        .ok::<policies::VersionsOut>(200);
    d.op("get", "/api/v1/policies/{version}")
        .ok::<policies::TextOut>(200);
    d.op("post", "/api/v1/policies/{version}/activate")
        .json::<policies::ActivateIn>(json!({"effective_from": "2022-11-12T00:00:00+08:00"}))
        .ok::<policies::VersionOut>(202);
    d.op("post", "/api/v1/policies/{version}/approve")
        .ok::<policies::VersionOut>(200);
    d.op("get", "/api/v1/people")
        .query::<people::ListQuery>()
        .ok::<wire::PeoplePageOut>(200);
    d.op("post", "/api/v1/people/lookup")
        .json::<people::LookupBody>(json!({"id_number": "320211199001011234"}))
        .ok::<wire::PersonRefOut>(200);
    d.op("post", "/api/v1/people/import")
        .json::<register::PeopleIn>(json!({"people": [{
            "id_number": "320211199001011234", "name": "王芳", "phone": "13800000000",
            "area": "320211001001", "home_cell": 12, "household": "H320211001001-0007"
        }]}))
        .also_accepts(CSV, "the register as CSV with a header line")
        .also_accepts(XLSX, "the register as an XLSX sheet with a header row")
        .ok::<register::ImportOut>(200);
    d.op("post", "/api/v1/claim/start")
        .json::<claim::ClaimStartIn>(
            json!({"id_number": "320211199001011234", "name": "王芳", "phone": "13800000000"}),
        )
        .ok::<claim::ClaimStartOut>(202);
    d.op("post", "/api/v1/claim/finish")
        .json::<claim::ClaimFinishIn>(json!({"claim_id": "c7f3a9e2", "code": "482913"}))
        .ok::<claim::ClaimFinishOut>(201);
    d.op("post", "/api/v1/claim/proxy")
        .json::<claim::ProxyIn>(
            json!({"id_number": "320211194501011236", "name": "王建国", "relation": "parent"}),
        )
        .ok::<claim::DependantOut>(201);
    d.op("get", "/api/v1/claim/dependants")
        .item::<claim::DependantOut>()
        .ok::<ItemsOut<claim::DependantOut>>(200);
    d.op("post", "/api/v1/proxies/{id}/revoke")
        .ok_free(200, "The revoked grant");
    d.op("post", "/api/v1/people/{id}/card")
        .ok::<card::CardOut>(201);
    d.op("get", "/api/v1/cards/{id}").ok::<card::CardOut>(200);
    d.op("get", "/api/v1/cards/{id}/qr.svg")
        .ok_media(200, "image/svg+xml", "The card's QR code");
    d.op("get", "/api/v1/cards/{id}/qr.png")
        .ok_media(200, "image/png", "The card's QR code");
    d.op("post", "/api/v1/cards/{id}/revoke")
        .json::<card::RevokeIn>(json!({"reason": "card lost"}))
        .ok::<card::CardOut>(200);
    d.op("get", "/api/v1/people/{id}")
        .query::<people::PersonQuery>()
        .ok::<wire::PersonOut>(200);
    d.op("get", "/api/v1/people/{id}/code")
        .ok::<wire::CodeOut>(200);
    d.op("get", "/api/v1/people/{id}/code.svg").ok_media(
        200,
        "image/svg+xml",
        "The code as a QR image",
    );
    d.op("get", "/api/v1/people/{id}/code.png").ok_media(
        200,
        "image/png",
        "The code as a QR image",
    );
    d.op("get", "/api/v1/venues")
        .query::<people::ListQuery>()
        .ok::<wire::VenuesPageOut>(200);
    d.op("get", "/api/v1/venues/{id}").ok::<wire::VenueOut>(200);
    let one = d.schema::<scan::ScanItem>();
    let many = d.schema::<ScansIn>();
    let answer = d.schema::<scan::ScanAnswer>();
    let answers = d.schema::<wire::ScansOut>();
    d.op("post", "/api/v1/scans")
        .json_schema(
            json!({"oneOf": [one, many]}),
            json!({"place_code": "320213V0000123", "token": "XK1:…", "direction": "in"}),
        )
        .ok_json(
            200,
            json!({"anyOf": [answer, answers]}),
            "One scan: the decision at the door; a batch: each scan's result",
        );
    d.op("get", "/api/v1/scans")
        .query::<venues::ScanQuery>()
        .item::<wire::CheckInOut>()
        .ok::<ItemsOut<wire::CheckInOut>>(200);
    d.op("get", "/api/v1/scans/anomalies")
        .query::<anomaly::AnomalyQuery>()
        .ok::<anomaly::AnomaliesOut>(200);
    d.op("post", "/api/v1/pings")
        .json::<PingsIn>(json!({"pings": [{"person": "P3", "at": "2022-11-10T08:30:00+08:00", "lat": 31.49, "lon": 120.31}]}))
        .ok::<wire::PingsOut>(200);
    d.op("post", "/api/v1/test-results")
        .json::<results::ResultsIn>(json!({"results": [{
            "person": "P3", "sampled_at": "2022-11-10T08:00:00+08:00",
            "resulted_at": "2022-11-10T20:00:00+08:00", "outcome": "negative",
            "pool_size": 10, "tube": "T320211000001"
        }]}))
        .ok::<wire::RecordedOut>(200);
    d.op("get", "/api/v1/test-results")
        .query::<results::PersonOnly>()
        .item::<results::TestResultOut>()
        .ok::<ItemsOut<results::TestResultOut>>(200);
    d.op("post", "/api/v1/cases")
        .json::<cases::CaseIn>(
            json!({"person": "P3", "kind": "confirmed", "onset": "2022-11-09T00:00:00+08:00"}),
        )
        .ok::<wire::RegisteredCaseOut>(201);
    d.op("get", "/api/v1/cases")
        .ok::<ItemsOut<wire::CaseOut>>(200);
    d.op("get", "/api/v1/cases/{id}").ok::<wire::CaseOut>(200);
    d.op("post", "/api/v1/cases/{id}/screen")
        .json::<course::VerdictIn>(json!({"verdict": "confirmed"}))
        .ok::<wire::CaseOut>(200);
    d.op("post", "/api/v1/cases/{id}/recheck")
        .json::<course::VerdictIn>(
            json!({"verdict": "confirmed", "at": "2022-11-10T12:00:00+08:00"}),
        )
        .ok::<wire::CaseOut>(200);
    d.op("post", "/api/v1/cases/{id}/transfer")
        .json::<course::TransferIn>(json!({"hospital": "S320211H01"}))
        .ok::<wire::CaseOut>(200);
    d.op("post", "/api/v1/cases/{id}/reclassify")
        .json::<course::ReclassifyIn>(json!({"kind": "confirmed", "reason": "symptoms appeared"}))
        .ok::<wire::CaseOut>(200);
    d.op("post", "/api/v1/cases/{id}/discharge")
        .json::<course::WhenIn>(json!({"at": "2022-11-20T10:00:00+08:00"}))
        .ok::<wire::CaseStepOut>(200);
    d.op("post", "/api/v1/cases/{id}/death")
        .json::<course::WhenIn>(json!({}))
        .ok::<wire::CaseOut>(200);
    d.op("get", "/api/v1/cases/{id}/contacts")
        .query::<crate::trace::contacts::ContactQuery>()
        .ok::<tw::ContactsPageOut>(200);
    d.op("get", "/api/v1/cases/{id}/contacts/export")
        .query::<crate::trace::contacts::ContactQuery>()
        .ok_media(200, CSV, "The contact list")
        .ok_media(200, XLSX, "The contact list");
    d.op("post", "/api/v1/cases/{id}/contacts/{person}")
        .json::<crate::trace::actions::ActionIn>(json!({"action": "confirm"}))
        .ok::<tw::ContactStepOut>(200);
    d.op("post", "/api/v1/people/{id}/appeals")
        .json::<appeal::FileIn>(json!({"reason": "I was not at that venue on the 9th"}))
        .ok::<wire::AppealFiledOut>(201);
    d.op("get", "/api/v1/appeals")
        .query::<appeal::ListQuery>()
        .ok::<wire::AppealsOut>(200);
    d.op("post", "/api/v1/appeals/{id}/answer")
        .json::<appeal::AnswerIn>(
            json!({"answer": "The scan record shows you at the venue at 14:05."}),
        )
        .ok::<wire::AppealAnsweredOut>(200);
    d.op("get", "/api/v1/cases/{id}/sources")
        .ok::<tw::SourcesOut>(200);
    d.op("get", "/api/v1/clusters")
        .item::<tw::ClusterSummaryOut>()
        .ok::<ItemsOut<tw::ClusterSummaryOut>>(200);
    d.op("get", "/api/v1/clusters/{id}")
        .query::<crate::trace::clusters::ClusterQuery>()
        .ok_media(200, "text/vnd.graphviz", "With ?format=dot")
        .ok::<tw::ClusterOut>(200);
    d.op("get", "/api/v1/events")
        .query::<log::EventsQuery>()
        .item::<wire::EventOut>()
        .ok::<ItemsOut<wire::EventOut>>(200);
    d.op("get", "/api/v1/audit").ok::<wire::AuditOut>(200);
    d.op("get", "/api/v1/audit/checkpoint")
        .ok_media(200, "text/plain", "A C2SP signed note");
    d.op("get", "/api/v1/audit/key")
        .ok_media(200, "text/plain", "A C2SP vkey");
    d.op("get", "/api/v1/audit/consistency")
        .query::<checkpoint::ConsistencyQuery>()
        .ok::<wire::ConsistencyOut>(200);
    d.op("get", "/api/v1/drill/clock")
        .ok::<drill::ClockOut>(200);
    d.op("post", "/api/v1/drill/clock")
        .json::<drill::ClockIn>(json!({"advance_secs": 86400}))
        .ok::<drill::ClockOut>(200);
    d.op("post", "/api/v1/tokens")
        .json::<tokens::TokenIn>(json!({
            "name": "gate 3 scanner", "role": "venue", "area": "320211",
            "venue": "320213V0000123", "expires_at": "2022-12-31T00:00:00+08:00"
        }))
        .ok::<wire::TokenOut>(201);
    d.op("get", "/api/v1/tokens")
        .item::<tokens::TokenInfoOut>()
        .ok::<ItemsOut<tokens::TokenInfoOut>>(200);
    d.op("delete", "/api/v1/tokens/{id}")
        .ok::<tokens::TokenInfoOut>(200);
    d.op("get", "/api/v1/access")
        .query::<access::AccessQuery>()
        .ok::<access::AccessPageOut>(200);
    d.op("post", "/api/v1/holds")
        .json::<holds::HoldIn>(json!({"person": "P3", "basis": "pop-up: sample taken at a fever clinic", "expires_at": "2022-11-12T00:00:00+08:00"}))
        .ok::<holds::HoldOut>(201);
    d.op("get", "/api/v1/holds")
        .query::<holds::HoldsQuery>()
        .ok::<holds::HoldsOut>(200);
    d.op("post", "/api/v1/holds/{id}/approve")
        .ok::<holds::HoldOut>(200);
    d.op("post", "/api/v1/holds/{id}/clear")
        .ok::<holds::HoldOut>(200);
    d.op("get", "/api/v1/bulletin")
        .query::<bulletin::BulletinQuery>()
        .ok::<bulletin::BulletinOut>(200);
    d.op("get", "/api/v1/ledger/colours")
        .query::<ledger::LedgerQuery>()
        .ok::<ledger::LedgerOut>(200);
}

fn duty_ops(d: &mut Doc) {
    d.op("post", "/api/v1/grid/cells")
        .json::<grid::CellsIn>(json!({"cells": [{
            "cell": 12, "community": "320211001001", "name": "清名桥 2 号网格",
            "lat": 31.55, "lon": 120.30, "worker": "13900000000"
        }]}))
        .ok::<dw::ImportedOut>(201);
    d.op("get", "/api/v1/grid/cells").ok::<dw::CellsOut>(200);
    d.op("get", "/api/v1/grid/tasks")
        .query::<grid::TaskQuery>()
        .ok::<dw::TasksOut>(200);
    d.op("post", "/api/v1/grid/tasks/{id}/complete")
        .json::<grid::CompleteIn>(json!({"note": "visited; resident at home, temperature normal"}))
        .ok::<dw::TaskDoneOut>(200);
    d.op("get", "/api/v1/grid/overdue")
        .ok::<dw::OverdueOut>(200);
    d.op("post", "/api/v1/quarantine/sites")
        .json::<quarantine::SiteIn>(json!({
            "name": "滨湖 1 号隔离点", "kind": "centralized", "area": "320211",
            "lat": 31.52, "lon": 120.27, "capacity": 200
        }))
        .ok::<dw::SiteOut>(201);
    d.op("get", "/api/v1/quarantine/sites")
        .ok::<dw::SitesOut>(200);
    d.op("post", "/api/v1/quarantine/orders")
        .json::<quarantine::OrderIn>(json!({"person": "P3", "regime": "close_contact"}))
        .ok::<dw::OrderOut>(201);
    d.op("get", "/api/v1/quarantine/orders")
        .query::<quarantine::OrderQuery>()
        .ok::<dw::OrdersOut>(200);
    d.op("get", "/api/v1/quarantine/orders/{id}")
        .ok::<dw::OrderOut>(200);
    d.op("post", "/api/v1/quarantine/orders/{id}/transfer")
        .json::<quarantine::TransferIn>(json!({"site": "Q2"}))
        .ok::<dw::TransferOut>(200);
    d.op("post", "/api/v1/quarantine/orders/{id}/release")
        .ok::<dw::ReleaseOut>(200);
    d.op("post", "/api/v1/quarantine/reports")
        .json::<crate::duties::reports::ReportIn>(
            json!({"person": "P3", "temperature_c": 36.6, "symptoms": []}),
        )
        .ok::<dw::ReportOut>(201);
    d.op("get", "/api/v1/quarantine/follow-ups")
        .ok::<dw::FollowUpsOut>(200);
    d.op("post", "/api/v1/duties/sweep").ok::<dw::SweepOut>(200);
    d.op("post", "/api/v1/zones")
        .json::<zones::ZoneIn>(json!({"name": "清名桥社区 3 幢", "level": "sealed", "cells": [12]}))
        .ok::<draw::DrawProposedOut>(202);
    d.op("get", "/api/v1/zones").ok::<dw::ZonesOut>(200);
    d.op("get", "/api/v1/zones/{id}/conditions")
        .ok::<dw::ConditionsOut>(200);
    d.op("post", "/api/v1/zones/{id}/proposals")
        .ok::<dw::ProposalOut>(201);
    d.op("get", "/api/v1/zones/proposals")
        .ok::<dw::ProposalsOut>(200);
    d.op("post", "/api/v1/zones/proposals/run")
        .ok::<dw::ProposedOut>(200);
    d.op("post", "/api/v1/zones/proposals/{id}/approve")
        .ok::<dw::ApprovedOut>(200);
    d.op("post", "/api/v1/zones/proposals/{id}/reject")
        .ok::<dw::RejectedOut>(200);
    d.op("post", "/api/v1/arrivals/origins")
        .json::<arrivals::OriginIn>(json!({"code": "110101", "name": "东城", "risk": "high"}))
        .ok::<dw::OriginSetOut>(201);
    d.op("get", "/api/v1/arrivals/origins")
        .ok::<dw::OriginsOut>(200);
    d.op("post", "/api/v1/arrivals")
        .json::<arrivals::ArrivalIn>(
            json!({"person": "P3", "origin": "110101", "planned_at": "2022-11-12T18:00:00+08:00"}),
        )
        .ok::<dw::ArrivalOut>(201);
    d.op("post", "/api/v1/arrivals/{id}/arrived")
        .json::<arrivals::ArrivedIn>(json!({"site": "Q1"}))
        .ok::<dw::ArrivedOut>(200);
    d.op("post", "/api/v1/sentinels")
        .json::<sentinels::SentinelIn>(json!({"venue": "V12", "kind": "pharmacy"}))
        .ok::<dw::SentinelOut>(201);
    d.op("post", "/api/v1/sentinels/reports")
        .json::<sentinels::SentinelReportIn>(json!({"venue": "V12", "token": "XK1:…"}))
        .ok::<dw::SentinelReportOut>(201);
    d.op("post", "/api/v1/grid/unsampled")
        .json::<grid::UnsampledIn>(json!({"since": "2022-11-10T06:00:00+08:00", "cells": [12, 13]}))
        .ok::<dw::UnsampledOut>(201);
}

fn lab_ops(d: &mut Doc) {
    d.op("post", "/api/v1/sampling-sites")
        .json::<rounds::SiteIn>(
            json!({"name": "清名桥社区广场", "area": "320211001001", "cell": 12}),
        )
        .ok::<lw::SiteOut>(201);
    d.op("get", "/api/v1/sampling-sites")
        .ok::<lw::SitesOut>(200);
    d.op("post", "/api/v1/rounds")
        .json::<rounds::RoundIn>(json!({
            "name": "第 3 轮全员核酸", "area": "320211", "cells": [12, 13],
            "deadline": "2022-11-11T18:00:00+08:00"
        }))
        .ok::<lw::RoundOut>(201);
    d.op("get", "/api/v1/rounds/{id}").ok::<lw::RoundOut>(200);
    d.op("get", "/api/v1/rounds/{id}/unsampled")
        .query::<rounds::UnsampledQuery>()
        .ok::<lw::UnsampledOut>(200);
    d.op("post", "/api/v1/rounds/{id}/close")
        .ok::<lw::RoundClosedOut>(200);
    d.op("post", "/api/v1/rounds/{id}/deadline")
        .json::<rounds::DeadlineIn>(json!({"deadline": "2022-11-12T12:00:00+08:00", "reason": "rain stopped sampling for six hours"}))
        .ok::<lw::RoundOut>(200);
    d.op("post", "/api/v1/tubes")
        .json::<tubes::TubesIn>(
            json!({"tubes": [{"barcode": "T320211000001", "site": "SS1", "capacity": 10}]}),
        )
        .item::<lw::TubeOpenedOut>()
        .also::<lw::BatchOut<lw::TubeOpenedOut>>(201, "Some tubes opened")
        .item::<lw::TubeOpenedOut>()
        .ok::<lw::BatchOut<lw::TubeOpenedOut>>(200);
    d.op("get", "/api/v1/tubes").ok::<lw::TubeStatesOut>(200);
    d.op("post", "/api/v1/tubes/seal")
        .json::<tubes::BarcodesIn>(json!({"tubes": ["T320211000001"]}))
        .item::<lw::TubeMovedOut>()
        .ok::<lw::BatchOut<lw::TubeMovedOut>>(200);
    d.op("get", "/api/v1/tubes/stuck")
        .query::<tubes::StuckQuery>()
        .ok::<lw::StuckOut>(200);
    d.op("get", "/api/v1/tubes/{id}").ok::<lw::TubeOut>(200);
    d.op("post", "/api/v1/samples")
        .json::<tubes::SamplesIn>(json!({"samples": [{"tube": "T320211000001", "token": "XK1:…"}]}))
        .item::<lw::SampleBoundOut>()
        .ok::<lw::BatchOut<lw::SampleBoundOut>>(200);
    d.op("post", "/api/v1/batches")
        .json::<tubes::BatchIn>(
            json!({"courier": "苏 B·12345", "lab": "L1", "tubes": ["T320211000001"]}),
        )
        .item::<lw::TubeMovedOut>()
        .ok::<lw::BatchOut<lw::TubeMovedOut>>(201);
    d.op("post", "/api/v1/batches/{id}/receive")
        .json::<tubes::BarcodesIn>(json!({"tubes": ["T320211000001"]}))
        .item::<lw::TubeMovedOut>()
        .ok::<lw::BatchOut<lw::TubeMovedOut>>(200);
    d.op("post", "/api/v1/lab-results")
        .json::<lab_results::ResultsIn>(
            json!({"results": [{"barcode": "T320211000001", "outcome": "negative"}]}),
        )
        .also_accepts(CSV, "barcode,outcome,ct,resulted_at")
        .item::<lw::ResultedOut>()
        .ok::<lw::BatchOut<lw::ResultedOut>>(200);
    d.op("get", "/api/v1/lab-tasks")
        .query::<lab_results::TasksQuery>()
        .ok::<lw::LabTasksOut>(200);
    d.op("post", "/api/v1/vaccinations")
        .json::<vaccination::DosesIn>(json!({"doses": [{
            "id_number": "320211194501011236", "dose": 3, "vaccine": "CoronaVac",
            "date": "2022-10-01", "site": "滨湖区疾控接种点"
        }]}))
        .also_accepts(CSV, "id_number,dose,vaccine,date,site")
        .item::<lw::DoseRecordedOut>()
        .ok::<lw::BatchOut<lw::DoseRecordedOut>>(200);
    d.op("get", "/api/v1/vaccinations/coverage")
        .query::<vaccination::AreaQuery>()
        .ok::<lw::CoverageOut>(200);
    d.op("post", "/api/v1/vaccinations/outreach")
        .json::<vaccination::OutreachIn>(json!({"area": "320211"}))
        .ok::<lw::OutreachOut>(200);
    d.op("get", "/api/v1/vaccinations/outreach")
        .query::<vaccination::AreaQuery>()
        .ok::<lw::OutreachOut>(200);
    d.op("get", "/api/v1/people/{id}/vaccination")
        .ok::<lw::PersonVaccinationOut>(200);
    d.op("post", "/api/v1/test-requirements/check")
        .json::<vaccination::MandatedIn>(json!({"area": "320211", "every_hours": 72}))
        .ok::<lw::MandatedOut>(200);
}

fn city_ops(d: &mut Doc) {
    d.op("get", "/api/v1/trust/signed").ok_media(
        200,
        "application/cose",
        "The trust list as a COSE_Sign1 message signed by this city's anchor key",
    );
    d.op("get", "/api/v1/trust/anchor")
        .ok_free(200, "This city's trust anchor: jurisdiction and root key");
    d.op("post", "/api/v1/peers")
        .json::<peers::PeerIn>(json!({
            "name": "changzhou", "url": "https://xikang.changzhou.example/",
            "anchor": {"issuer": "320400", "key": "…"}
        }))
        .ok::<peers::PeerOut>(201);
    d.op("get", "/api/v1/peers").ok::<Vec<peers::PeerOut>>(200);
    d.op("post", "/api/v1/peers/{name}/refresh")
        .ok::<peers::PeerOut>(200);
    d.op("get", "/api/v1/peers/{name}").ok_free(
        200,
        "A peer: its state, the keys its signed list names, and its last good rules document",
    );
    d.op("get", "/api/v1/peer-rules")
        .ok::<Vec<rules::PeerRulesOut>>(200);
    d.op("get", "/api/v1/trust/rules").ok_media(
        200,
        "application/cose",
        "This city's risk areas and entry rules as a COSE_Sign1 message signed by its anchor key",
    );
    // `xikang_code::ListedKey` lives in a crate without the schema derive: written here.
    let text = json!({"type": "string"});
    let listed_key = json!({
        "type": "object",
        "required": ["kid", "alg", "public_key", "jurisdiction", "not_before", "not_after", "status"],
        "properties": {
            "kid": text, "alg": text, "public_key": text, "jurisdiction": text,
            "not_before": text, "not_after": text,
            "status": {"type": "string", "enum": ["current", "next", "retiring", "revoked"]}
        }
    });
    d.op("get", "/api/v1/keys").ok_json(
        200,
        json!({"type": "array", "items": listed_key}),
        "Every signing key this city holds: kid, validity, state",
    );
    d.op("post", "/api/v1/keys/rotate")
        .json::<keys::RotateIn>(json!({"ahead_secs": 86400, "valid_days": 366}))
        .ok::<keys::Rotated>(201);
    d.op("post", "/api/v1/keys/{kid}/revoke")
        .json::<keys::RevokeKeyIn>(json!({"reason": "私钥疑似泄露"}))
        .ok_json(
            200,
            json!({"type": "object", "required": ["revoked", "new"], "properties": {
                "revoked": {"type": "boolean"},
                "new": {"type": "boolean", "description": "Whether the keys in force changed"}
            }}),
            "The key is revoked",
        );
    d.op("post", "/api/v1/entry-checks")
        .json::<entry::EntryIn>(json!({"code": "XK1:…", "venue": "320213V0000123"}))
        .ok::<entry::EntryOut>(200);
    d.op("post", "/api/v1/codes/current")
        .json::<entry::CurrentIn>(json!({"token": "XK1:…"}))
        .ok::<entry::CurrentOut>(200);
    d.op("post", "/api/v1/passes")
        .json::<passes::PassIn>(json!({
            "person": "P3", "employer": "91320211MA1X0000X1", "work_jurisdiction": "320412",
            "days": 14, "max_test_age_hours": 48
        }))
        .ok::<passes::PassOut>(201);
    d.op("get", "/api/v1/passes")
        .query::<passes::PassQuery>()
        .item::<passes::PassOut>()
        .ok::<Vec<passes::PassOut>>(200);
    d.op("get", "/api/v1/passes/{id}")
        .ok::<passes::PassOut>(200);
    d.op("post", "/api/v1/passes/{id}/approve")
        .ok::<passes::PassOut>(200);
    d.op("post", "/api/v1/passes/{id}/revoke")
        .json::<card::RevokeIn>(json!({"reason": "no longer employed"}))
        .ok::<passes::PassOut>(200);
    d.op("post", "/api/v1/assist-requests")
        .json::<assist::AssistIn>(json!({
            "peer": "changzhou", "case": "C12",
            "places": [{"place_code": "320412V0000042", "from": "2022-11-08T09:00:00+08:00", "to": "2022-11-08T11:00:00+08:00"}]
        }))
        .ok::<assist::AssistOut>(201);
    d.op("get", "/api/v1/assist-requests")
        .query::<assist::DirectionQuery>()
        .item::<assist::AssistOut>()
        .ok::<Vec<assist::AssistOut>>(200);
    d.op("post", "/api/v1/assist-requests/{id}/answer")
        .json::<assist::AnswerIn>(json!({"outcome": "traced", "traced": 17}))
        .ok::<assist::AssistOut>(200);
    d.op("post", "/api/v1/assist-requests/inbox")
        .json::<assist::Signed>(json!({"signed": "…"}))
        .ok_free(200, "The receipt");
}

fn board_ops(d: &mut Doc) {
    d.op("post", "/api/v1/messages")
        .json::<messages::MessageIn>(json!({
            "category": "supplies", "title": "小区封控三天未送菜",
            "text": "清名桥社区 3 幢封控第三天，尚未收到保供物资。", "district": "320211"
        }))
        .ok::<messages::PostedOut>(201);
    d.op("get", "/api/v1/messages")
        .query::<messages::ListQuery>()
        .item::<messages::MessageOut>()
        .ok::<messages::PageOut<messages::MessageOut>>(200);
    d.op("get", "/api/v1/messages/stats")
        .query::<messages::StatsQuery>()
        .ok::<messages::StatsOut>(200);
    d.op("get", "/api/v1/messages/public")
        .query::<messages::PublicQuery>()
        .item::<messages::PublicMessageOut>()
        .ok::<messages::PageOut<messages::PublicMessageOut>>(200);
    d.op("get", "/api/v1/messages/export")
        .query::<messages::ExportQuery>()
        .ok_media(200, CSV, "The messages")
        .ok_media(200, XLSX, "The messages");
    d.op("get", "/api/v1/messages/{id}")
        .ok::<messages::MessageOut>(200);
    for (path, text) in [
        ("/api/v1/messages/{id}/accept", None),
        (
            "/api/v1/messages/{id}/reply",
            Some("物资已于今日 15 时送达。"),
        ),
        ("/api/v1/messages/{id}/transfer", Some("转区商务局保供专班")),
        ("/api/v1/messages/{id}/close", Some("已办结")),
    ] {
        let example = match text {
            Some(t) => json!({ "text": t }),
            None => json!({}),
        };
        d.op("post", path)
            .json::<messages::ActIn>(example)
            .ok::<messages::ActedOut>(200);
    }
    d.op("post", "/api/v1/enterprises/filings")
        .json::<enterprise::FilingIn>(json!({
            "enterprise": "无锡某精密机械有限公司", "credit_code": "91320211MA1X0000X1",
            "industry": "manufacturing", "area": "320211", "site": "滨湖区建筑西路 599 号",
            "responsible": "李强", "measures": "分区作业、每日两次消杀、闭环通勤",
            "workers": [{"id_number": "320211199001011234"}]
        }))
        .ok::<enterprise::FilingOut>(201);
    d.op("get", "/api/v1/enterprises/filings")
        .query::<enterprise::FilingsQuery>()
        .item::<enterprise::FilingOut>()
        .ok::<messages::PageOut<enterprise::FilingOut>>(200);
    d.op("post", "/api/v1/enterprises/filings/{id}/decision")
        .json::<enterprise::DecisionIn>(json!({"approve": true, "reason": "措施齐全"}))
        .ok::<enterprise::FilingOut>(200);
    d.op("get", "/api/v1/enterprises/filings/{id}/green")
        .ok::<enterprise::GreenOut>(200);
    d.op("get", "/api/v1/enterprises/resumption")
        .query::<enterprise::AreaQuery>()
        .ok::<enterprise::ResumptionOut>(200);
    d.op("get", "/api/v1/enterprises/resumption/export")
        .query::<enterprise::AreaQuery>()
        .ok_media(200, CSV, "复工率 by area")
        .ok_media(200, XLSX, "复工率 by area");
    d.op("get", "/board")
        .ok_media(200, "text/html", "The board's page");
    d.op("get", "/api/v1/venues/silent")
        .query::<board_venues::SilentQuery>()
        .ok::<board_venues::SilentOut>(200);
    d.op("post", "/api/v1/inspections")
        .json::<board_venues::InspectionIn>(json!({
            "venue": "V12", "kind": "routine", "findings": "场所码张贴规范，测温正常",
            "passed": true
        }))
        .ok::<board_venues::InspectionOut>(201);
    d.op("get", "/api/v1/inspections")
        .query::<board_venues::InspectionsQuery>()
        .item::<board_venues::InspectionOut>()
        .ok::<ItemsOut<board_venues::InspectionOut>>(200);
    d.op("get", "/api/v1/supervision/timers")
        .query::<supervision::TimersQuery>()
        .ok::<supervision::TimersOut>(200);
    d.op("post", "/api/v1/supply-requests")
        .json::<supplies::SupplyIn>(json!({"need": "medicine", "items": "降压药 一盒"}))
        .ok::<supplies::SupplyOut>(201);
    d.op("get", "/api/v1/supervision/quarterly")
        .query::<quarterly::QuarterQuery>()
        .ok::<quarterly::QuarterOut>(200);
    d.op("post", "/api/v1/supervision/items")
        .json::<responsibility::ItemIn>(json!({
            "department": "区卫健委", "owner": "张伟", "what": "发热门诊 24 小时开放",
            "deadline": "2022-11-15T00:00:00+08:00"
        }))
        .ok::<responsibility::ItemOut>(201);
    d.op("get", "/api/v1/supervision/items")
        .query::<responsibility::ItemsQuery>()
        .item::<responsibility::ItemOut>()
        .ok::<ItemsOut<responsibility::ItemOut>>(200);
    d.op("post", "/api/v1/supervision/items/{id}/done")
        .json::<responsibility::DoneIn>(json!({"note": "已落实"}))
        .ok::<responsibility::ItemOut>(200);
    d.op("post", "/api/v1/enterprises/exchange")
        .json::<exchange::PostIn>(json!({"credit_code": "91320211MA1X0000X1", "kind": "offer", "item": "N95 口罩", "quantity": 2000}))
        .ok::<exchange::PostOut>(201);
    d.op("get", "/api/v1/enterprises/exchange")
        .query::<exchange::ExchangeQuery>()
        .item::<exchange::PostOut>()
        .ok::<ItemsOut<exchange::PostOut>>(200);
    d.op("get", "/api/v1/capacity")
        .query::<capacity::CapacityQuery>()
        .ok::<capacity::CapacityOut>(200);
    d.op("get", "/api/v1/capacity/export")
        .query::<capacity::CapacityQuery>()
        .ok_media(200, CSV, "Capacity by resource")
        .ok_media(200, XLSX, "Capacity by resource");
    d.op("post", "/api/v1/capacity/reports")
        .json::<capacity::ReportIn>(json!({
            "resource": "fever_clinic", "name": "滨湖区人民医院发热门诊", "area": "320211",
            "total": 40, "in_use": 31
        }))
        .ok::<capacity::ReportedOut>(201);
    d.op("post", "/api/v1/enterprises/exchange/{id}/close")
        .ok::<exchange::PostOut>(200);
    d.op("post", "/api/v1/inspections/photos")
        .body_media(
            &["image/jpeg", "image/png"],
            "A whole JPEG or PNG, at most 1 MiB",
        )
        .ok::<photos::PhotoOut>(201);
    d.op("get", "/api/v1/inspections/{id}/photos/{photo}")
        .ok_media(200, "image/jpeg", "The photo")
        .ok_media(200, "image/png", "The photo");
    d.op("get", "/api/v1/inspections/export")
        .query::<board_venues::InspectionsExport>()
        .ok_media(200, CSV, "Inspections")
        .ok_media(200, XLSX, "Inspections");
    d.op("get", "/api/v1/supervision/items/export")
        .query::<responsibility::ItemsQuery>()
        .ok_media(200, CSV, "Responsibility items")
        .ok_media(200, XLSX, "Responsibility items");
    d.op("get", "/api/v1/supervision/quarterly/export")
        .query::<quarterly::QuarterQuery>()
        .ok_media(200, CSV, "The quarter's evaluation by district")
        .ok_media(200, XLSX, "The quarter's evaluation by district");
    d.op("get", "/api/v1/colours")
        .ok::<crate::colours::ColourCountsOut>(200);
}
