//! The daily bulletin as data: `GET /api/v1/bulletin?date=YYYY-MM-DD&lang=zh|en` answers the
//! figures of any day up to today, computed as of that day from the authority log (the
//! projection folds every applied event into [`xikang_domain::bulletin::Accumulator`]), with
//! the published text in the language asked for. The web bulletin page asks the same query.

use super::*;
use xikang_domain::CivilDay;
use xikang_domain::bulletin::{Bulletin, Language};

/// Who may read the bulletin before it is published: every staff role.
const READERS: &[Role] = &[Role::Admin, Role::Tracer, Role::Lab, Role::GridWorker];

/// The query of `GET /api/v1/bulletin`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BulletinQuery {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
}

/// `GET /api/v1/bulletin`: the day, its figures and its published text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulletinOut {
    pub date: String,
    /// The figures as the log held them that day.
    #[schema(value_type = Object)]
    pub figures: Bulletin,
    pub lang: Language,
    pub text: String,
}

/// The figures of `day` (today or earlier) as the log held them at the end of that day:
/// staff only; city-wide counts, no person.
pub fn bulletin_of(state: &AppState, caller: &Actor, day: CivilDay) -> Result<Bulletin, AppError> {
    caller.require(READERS, "reading the bulletin")?;
    if day > crate::now().shanghai_day() {
        return Err(AppError::bad(
            "invalid_date",
            "the bulletin is of today or an earlier day",
        ));
    }
    Ok(crate::app::projection::lock(&state.projection.bulletin).bulletin(day))
}

/// `GET /api/v1/bulletin?date=YYYY-MM-DD&lang=zh|en` (today and Chinese by default).
pub async fn get_bulletin(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<BulletinQuery>,
) -> Result<Json<BulletinOut>, AppError> {
    caller.require(READERS, "reading the bulletin")?;
    let day = match q.date.as_deref() {
        None | Some("") => crate::now().shanghai_day(),
        Some(d) => {
            CivilDay::parse(d).map_err(|_| AppError::bad("invalid_date", "date is YYYY-MM-DD"))?
        }
    };
    let lang = match q.lang.as_deref() {
        None | Some("") => Language::Zh,
        Some(l) => {
            Language::parse(l).ok_or_else(|| AppError::bad("invalid_lang", "lang is zh or en"))?
        }
    };
    let figures = bulletin_of(&state, &caller, day)?;
    Ok(Json(BulletinOut {
        date: xikang_domain::bulletin::iso_day(&figures.day),
        text: xikang_domain::bulletin::text(lang, &figures),
        lang,
        figures,
    }))
}
