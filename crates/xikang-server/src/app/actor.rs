//! Who is acting: the [`Actor`] every command and query takes, and the [`Role`]s. An actor
//! comes from a bearer token (`crate::auth`) or a web session (`crate::web::session`); what
//! it may touch is decided in one place, [`crate::app::authorise`].

use crate::error::AppError;
use xikang_domain::enterprise::CreditCode;
use xikang_domain::{AreaCode, PersonId, VenueId};

/// What an actor may do. Stored by name; an unknown name is no role at all (refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Tracer,
    Lab,
    VenueDevice,
    GridWorker,
    Resident,
    /// Manages one or more quarantine sites (sites name their manager).
    SiteManager,
    /// A mobile carrier's feed: posts location pings, reads nothing.
    Carrier,
    /// An enterprise's account, bound to one enterprise by its credit code
    /// ([`Actor::enterprise`]): files for resumption, reads its own filings and its own
    /// workers' colours as the policy allows, posts on the supply–demand board, applies for
    /// its employees' commuter passes (docs/citizens.md).
    Enterprise,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::Tracer,
        Role::Lab,
        Role::VenueDevice,
        Role::GridWorker,
        Role::Resident,
        Role::SiteManager,
        Role::Carrier,
        Role::Enterprise,
    ];

    /// Parses the stored role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// How long an API token of this role lives unless its issuer says otherwise, and the
    /// longest an issuer may give it. Admins' tokens are short (a stolen one is worth the
    /// most); venue devices and carriers' feeds are machines re-keyed rarely; staff in
    /// between; a resident's token lasts a season.
    pub fn token_lifetime(self) -> TokenLifetime {
        const HOUR: i64 = 3_600;
        const DAY: i64 = 24 * HOUR;
        let (default, max) = match self {
            Role::Admin => (12 * HOUR, 7 * DAY),
            Role::Tracer | Role::Lab | Role::GridWorker | Role::SiteManager | Role::Enterprise => {
                (30 * DAY, 90 * DAY)
            }
            Role::Resident => (90 * DAY, 365 * DAY),
            Role::VenueDevice | Role::Carrier => (365 * DAY, 730 * DAY),
        };
        TokenLifetime { default, max }
    }

    /// The stored role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Tracer => "tracer",
            Role::Lab => "lab",
            Role::VenueDevice => "venue_device",
            Role::GridWorker => "grid_worker",
            Role::Resident => "resident",
            Role::SiteManager => "site_manager",
            Role::Carrier => "carrier",
            Role::Enterprise => "enterprise",
        }
    }
}

/// A token lifetime in seconds: the default and the ceiling ([`Role::token_lifetime`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime {
    pub default: i64,
    pub max: i64,
}

/// An authenticated actor: one role, one jurisdiction (an area code: city, district or
/// street), and for devices and residents the venue or person they stand for.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    pub area: AreaCode,
    /// For a venue device: the venue it belongs to (None = any venue in its area).
    pub venue: Option<VenueId>,
    /// For a resident: the person they are.
    pub person: Option<PersonId>,
    /// Whether this actor may look people up by ID number (devices for residents
    /// without a phone; staff).
    pub id_lookup: bool,
    /// For an enterprise's account: the enterprise it stands for (always set for that role,
    /// never for another).
    pub enterprise: Option<CreditCode>,
}

/// The enterprise a stored token or user binds a role to: `Some(None)` for a role that is
/// not an enterprise's and binds none, `Some(Some(code))` for an enterprise's account with a
/// valid code, `None` (refused, as an unknown role is) for an enterprise's account without
/// one or another role that names one.
pub fn enterprise_binding(role: Role, stored: Option<&str>) -> Option<Option<CreditCode>> {
    match (role, stored) {
        (Role::Enterprise, Some(code)) => CreditCode::parse(code).ok().map(Some),
        (Role::Enterprise, None) | (_, Some(_)) => None,
        (_, None) => Some(None),
    }
}

impl Actor {
    /// Fails unless the actor has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &'static str) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(what))
        }
    }

    /// Whether `area` lies inside the actor's jurisdiction.
    pub fn covers(&self, area: &AreaCode) -> bool {
        self.area.contains(area)
    }

    /// Whether the actor is the account of this enterprise.
    pub fn is_enterprise(&self, code: &str) -> bool {
        self.role == Role::Enterprise
            && self.enterprise.as_ref().is_some_and(|c| c.as_str() == code)
    }

    /// The actor name written into authority events.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }
}
