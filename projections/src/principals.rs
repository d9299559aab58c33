//! The users and tokens read models: who can sign in, with which role and scope, and which
//! tokens exist (never their secrets: those are hashes beside the ledger).

use crate::event::Applied;
use crate::store::{bodies, load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{LedgerEvent, Role, SignInEvent, TokenEvent, UserEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// `viewer`, `operator` or `admin`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub role: Role,
    /// Database ids or name patterns this user is limited to; absent: every database.
    pub databases: Option<Vec<String>>,
    pub disabled: bool,
    /// `local` (password) or `oidc`.
    pub origin: String,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// Who issued it: `user:<id>` or `token:bootstrap`.
    pub owner: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub role: Role,
    pub databases: Option<Vec<String>>,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
    pub created_at: String,
    /// When a request last used it (RFC 3339), to the minute.
    #[serde(default)]
    pub last_used_at: Option<String>,
}

async fn save_user(tx: &mut Tx<'_>, v: &UserView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_users",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![
            ("username", Arg::S(v.username.clone())),
            ("body", Arg::body(v)),
        ],
        on_conflict: OnConflict::Set(&["username", "body"]),
    });
    Ok(())
}

async fn save_token(tx: &mut Tx<'_>, v: &TokenView) -> Result<(), ProjectionError> {
    tx.write(Write {
        table: "rm_tokens",
        key: ("id", Arg::S(v.id.clone())),
        cols: vec![("body", Arg::body(v))],
        on_conflict: OnConflict::Set(&["body"]),
    });
    Ok(())
}

async fn update_user(
    tx: &mut Tx<'_>,
    id: &str,
    change: impl FnOnce(&mut UserView),
) -> Result<(), ProjectionError> {
    if let Some(mut u) = load::<UserView>(tx, "rm_users", id).await? {
        change(&mut u);
        save_user(tx, &u).await?;
    }
    Ok(())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let at = e.at.clone();
    let id = e.aggregate_id;
    match &e.event {
        LedgerEvent::User(UserEvent::UserCreated {
            username,
            display_name,
            role,
            databases,
            origin,
        }) => {
            let v = UserView {
                id: id.to_string(),
                username: username.clone(),
                display_name: display_name.clone(),
                role: *role,
                databases: databases.clone(),
                disabled: false,
                origin: origin.clone(),
                created_at: at,
                last_sign_in_at: None,
            };
            save_user(tx, &v).await
        }
        LedgerEvent::User(UserEvent::UserRoleChanged { role, databases }) => {
            update_user(tx, id, |u| {
                u.role = *role;
                u.databases = databases.clone();
            })
            .await
        }
        LedgerEvent::User(UserEvent::UserDisabled {}) => {
            update_user(tx, id, |u| u.disabled = true).await
        }
        LedgerEvent::User(UserEvent::UserEnabled {}) => {
            update_user(tx, id, |u| u.disabled = false).await
        }
        LedgerEvent::SignIn(SignInEvent::SignedIn { user_id, .. }) => {
            update_user(tx, user_id, |u| u.last_sign_in_at = Some(at)).await
        }
        LedgerEvent::Token(TokenEvent::TokenIssued {
            name,
            owner,
            role,
            databases,
            expires_at,
        }) => {
            let v = TokenView {
                id: id.to_string(),
                name: name.clone(),
                owner: owner.clone(),
                role: *role,
                databases: databases.clone(),
                expires_at: expires_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                revoked: false,
                revoked_at: None,
                created_at: at,
                last_used_at: None,
            };
            save_token(tx, &v).await
        }
        LedgerEvent::Token(TokenEvent::TokenRevoked { .. }) => {
            if let Some(mut t) = load::<TokenView>(tx, "rm_tokens", id).await? {
                t.revoked = true;
                t.revoked_at = Some(at);
                save_token(tx, &t).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Projections {
    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<UserView>, ProjectionError> {
        bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_users ORDER BY username, id",
            vec![],
        )
        .await
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_users WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_users WHERE username = $1",
            vec![Arg::S(username.into())],
        )
        .await?
        .pop())
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> Result<Vec<TokenView>, ProjectionError> {
        let mut all: Vec<TokenView> =
            bodies(self.ledger.pool(), "SELECT body FROM rm_tokens", vec![]).await?;
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    pub async fn token(&self, id: &str) -> Result<Option<TokenView>, ProjectionError> {
        Ok(bodies(
            self.ledger.pool(),
            "SELECT body FROM rm_tokens WHERE id = $1",
            vec![Arg::S(id.into())],
        )
        .await?
        .pop())
    }
}
