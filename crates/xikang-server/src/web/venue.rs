//! The venue's scan page (a scanner gun types the code and Enter; a pasted code works the
//! same) answering allow or deny large and in colour, and the venue's printable poster.
//! Scans go through the same command as the API's scan handler (`scan::record_scan`), so
//! they are recorded and decided exactly as a venue device's are.

use super::resident::{colour_words, inline_svg};
use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout};
use crate::app::Role;
use crate::error::AppError;
use crate::scan::{self, Decision, ScanAnswer, ScanItem};
use crate::state::AppState;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::VenueId;

const SCANNERS: &[Role] = &[Role::VenueDevice, Role::Admin, Role::Tracer];

fn form(user: &WebUser, place: &str, fixed: bool) -> String {
    let lang = user.lang;
    let place_field = if fixed {
        format!(
            "<input type=\"hidden\" name=\"place_code\" value=\"{}\"><p>{}: <strong>{}</strong></p>",
            esc(place),
            lang.m("venue-place-code"),
            esc(place)
        )
    } else {
        format!(
            "<label for=\"place_code\">{}</label><input id=\"place_code\" name=\"place_code\" required value=\"{}\" autocomplete=\"off\">",
            lang.m("venue-place-code"),
            esc(place)
        )
    };
    format!(
        r#"<form method="post" action="/web/venue" class="scan">{csrf}{place_field}
<label for="code">{l_code}</label><input id="code" name="code" required autofocus autocomplete="off" aria-describedby="code-help">
<small id="code-help">{help}</small><button type="submit">{l_go}</button></form>"#,
        csrf = user.csrf_field(),
        l_code = lang.m("venue-health-code-scanner-gun-or-paste"),
        help = lang.m("venue-a-scanner-gun-submits-by-itself"),
        l_go = lang.m("venue-check"),
    )
}

/// The place code of the user's own venue, if bound to one.
fn own_place(state: &AppState, user: &WebUser) -> Option<String> {
    user.caller
        .venue
        .and_then(|v| state.projection.venues.get(v))
        .map(|v| v.place_code.as_str().to_owned())
}

/// `GET /web/venue`.
pub async fn scan_page(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(SCANNERS, "scanning codes") {
        return r;
    }
    let own = own_place(&state, &user);
    let mut body = form(&user, own.as_deref().unwrap_or(""), own.is_some());
    if let Some(v) = user.caller.venue {
        let _ = write!(
            body,
            "<p><a href=\"/web/venues/{v}/poster\">{}</a></p>",
            user.lang.m("venue-print-the-venue-poster")
        );
    }
    html(
        StatusCode::OK,
        layout(
            user.lang,
            user.lang.m("common-venue-scan"),
            Some(&user),
            "/web/venue",
            &body,
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    place_code: String,
    #[serde(default)]
    code: String,
}

/// `POST /web/venue`: one scan; the answer, then the form again for the next person.
pub async fn scan(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<ScanForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(SCANNERS, "scanning codes") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let own = own_place(&state, &user);
    // A device bound to a venue scans only there, whatever the form says.
    let place = own
        .clone()
        .unwrap_or_else(|| f.place_code.trim().to_owned());
    // A tracer may use the page, but the scan handler takes venue devices and admins: a
    // tracer scans as an admin of their own jurisdiction would not be right, so refuse.
    let answer = if user.caller.role == Role::Tracer {
        Err(AppError::Forbidden(
            "tracers look codes up but do not record scans",
        ))
    } else {
        scan::record_scan(
            &state,
            &user.caller,
            ScanItem {
                place_code: place.clone(),
                token: Some(f.code.trim().to_owned()),
                ..ScanItem::default()
            },
        )
        .await
    };
    let mut body = String::new();
    let status = match &answer {
        Ok(a) => {
            body.push_str(&verdict(lang, a));
            StatusCode::OK
        }
        Err(e) => {
            let (status, code, msg) = e.summary();
            let _ = write!(
                body,
                "<div class=\"verdict unknown\" role=\"alert\" data-decision=\"error\"><p class=\"big\">{}</p><p>{}</p></div>",
                lang.m("venue-cannot-check"),
                esc(&super::i18n::error_text(lang, code, &msg))
            );
            status
        }
    };
    body.push_str(&form(&user, &place, own.is_some()));
    html(
        status,
        layout(
            lang,
            lang.m("common-venue-scan"),
            Some(&user),
            "/web/venue",
            &body,
        ),
    )
}

/// The big allow / deny box for one scan, in the colour of the code and in words.
fn verdict(lang: Lang, a: &ScanAnswer) -> String {
    let (class, words) = colour_words(lang, a.colour);
    let (d, verdict) = match a.decision {
        Decision::Allow => ("allow", lang.m("venue-allow")),
        Decision::Deny => ("deny", lang.m("venue-deny")),
    };
    let hours = a.hours_since_negative.map_or(String::new(), |h| {
        format!(
            "<p>{}: {h}</p>",
            lang.m("venue-hours-since-the-last-negative-sample")
        )
    });
    format!(
        r#"<div class="verdict {class}" role="status" aria-live="assertive" data-decision="{d}"><p class="big">{verdict}</p><p>{zh} {en} · {words}</p>{hours}</div>"#,
        zh = a.colour.zh(),
        en = a.colour.as_str(),
    )
}

/// `GET /web/venues/{id}/poster`: a printable A4 poster with the venue's name and place
/// code as a QR, for the door.
pub async fn poster(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let lang = user.lang;
    let venue = VenueId::parse(&id).and_then(|v| state.projection.venues.get(v));
    let Some(venue) = venue else {
        return error_page(
            lang,
            Some(&user),
            &AppError::not_found("unknown_venue", "no such venue"),
        );
    };
    let allowed = match user.caller.role {
        Role::VenueDevice => user
            .caller
            .venue
            .map_or(user.caller.covers(&venue.area), |v| v == venue.id),
        Role::Admin | Role::Tracer => user.caller.covers(&venue.area),
        Role::Lab
        | Role::GridWorker
        | Role::Resident
        | Role::SiteManager
        | Role::Carrier
        | Role::Enterprise => false,
    };
    if !allowed {
        return error_page(
            lang,
            Some(&user),
            &AppError::Forbidden("this venue is outside your jurisdiction"),
        );
    }
    let body = format!(
        r#"<div class="poster"><p class="venue-name">{name}</p><div class="qr">{qr}</div><p class="place">{l_place}: {code}</p>
<p>{l1}</p><p lang="{other}">{l2}</p><p><button type="button" class="noprint" data-print>{l_print}</button></p></div>
<script src="/web/static/live.js"></script>"#,
        name = esc(&venue.name),
        qr = inline_svg(&xikang_code::qr_svg(venue.place_code.as_str())),
        l_place = lang.m("venue-place-code"),
        code = esc(venue.place_code.as_str()),
        l1 = "进入请出示锡康码，配合查验。",
        other = Lang::En.html(),
        l2 = "Show your health code at the door.",
        l_print = lang.m("venue-print"),
    );
    html(
        StatusCode::OK,
        layout(lang, lang.m("venue-venue-poster"), Some(&user), "", &body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::Colour;
    use xikang_domain::testing::VaccinationStatus;

    fn answer(decision: Decision, colour: Colour) -> ScanAnswer {
        ScanAnswer {
            decision,
            colour,
            hours_since_negative: None,
            reason: "colour_red",
            vaccination: VaccinationStatus { doses: 0 }.into(),
        }
    }

    #[test]
    fn a_red_denied_scan_is_shown_as_deny_in_red_never_green() {
        let html = verdict(Lang::En, &answer(Decision::Deny, Colour::Red));
        assert!(html.contains(r#"class="verdict red""#), "{html}");
        assert!(html.contains(r#"data-decision="deny""#), "{html}");
        assert!(html.contains("DENY"), "{html}");
        assert!(!html.contains("green") && !html.contains("ALLOW"), "{html}");
    }

    #[test]
    fn a_yellow_denied_scan_is_shown_as_deny_in_yellow() {
        let html = verdict(Lang::En, &answer(Decision::Deny, Colour::Yellow));
        assert!(html.contains(r#"class="verdict yellow""#), "{html}");
        assert!(html.contains(r#"data-decision="deny""#), "{html}");
        assert!(!html.contains("green"), "{html}");
    }

    #[test]
    fn the_decision_keeps_its_wire_names() {
        assert_eq!(
            serde_json::to_value(Decision::Allow).ok(),
            Some(serde_json::json!("allow"))
        );
        assert_eq!(
            serde_json::to_value(Decision::Deny).ok(),
            Some(serde_json::json!("deny"))
        );
    }
}
