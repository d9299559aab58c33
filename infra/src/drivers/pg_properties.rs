//! PostgreSQL database-level properties: read from the catalogs at backup time (inside the
//! dump's snapshot), re-created at restore time from that typed data, every name and value
//! quoted by `crate::sql`. Nothing here ever reads the archive.

use super::postgres::describe;
use super::StageError;
use crate::sql::{pg_ident, pg_literal, split_pg_list};
use backline_domain::Stage;
use backline_domain::{
    PgDatabaseGrant, PgDatabasePrivilege, PgDatabaseProperties, PgLocaleProvider, PgSecurityLabel,
    PgSetting,
};
use sqlx::postgres::PgConnection;
use sqlx::Row;

/// Reads the properties of database `name` (the connection's own when `None`);
/// `Ok(None)` when there is no such database. `version_num` is `server_version_num`: the
/// catalog's columns differ between majors.
pub(crate) async fn read(
    c: &mut PgConnection,
    version_num: i32,
    name: Option<&str>,
) -> Result<Option<PgDatabaseProperties>, StageError> {
    let err = |e: sqlx::Error| {
        StageError::new(
            Stage::Dump,
            format!(
                "reading the database's properties from the catalogs: {}",
                describe(&e)
            ),
        )
    };
    let provider = if version_num >= 150000 {
        "d.datlocprovider::text"
    } else {
        "NULL::text"
    };
    let locale = match version_num {
        n if n >= 170000 => "d.datlocale::text",
        n if n >= 150000 => "d.daticulocale::text",
        _ => "NULL::text",
    };
    let rules = if version_num >= 160000 {
        "d.daticurules::text"
    } else {
        "NULL::text"
    };
    // The column expressions above are fixed text chosen by version, never data.
    let query = format!(
        "SELECT d.oid::bigint AS oid, pg_get_userbyid(d.datdba)::text AS owner, \
         pg_encoding_to_char(d.encoding)::text AS enc, d.datcollate::text AS coll, \
         d.datctype::text AS ctype, {provider} AS provider, {locale} AS locale, {rules} AS rules, \
         d.datconnlimit AS connlimit, \
         (SELECT t.spcname::text FROM pg_tablespace t WHERE t.oid = d.dattablespace AND t.spcname <> 'pg_default') AS tablespace, \
         shobj_description(d.oid, 'pg_database') AS comment, d.datacl IS NULL AS default_acl \
         FROM pg_database d WHERE d.datname = COALESCE($1, current_database())"
    );
    let Some(row) = sqlx::query(&query)
        .bind(name)
        .fetch_optional(&mut *c)
        .await
        .map_err(err)?
    else {
        return Ok(None);
    };
    let get = |name: &str| -> Option<String> { row.try_get::<Option<String>, _>(name).ok()? };
    let oid: i64 = row.try_get("oid").map_err(err)?;
    let default_acl: bool = row.try_get("default_acl").map_err(err)?;

    let settings = settings(c, oid).await.map_err(err)?;
    let privileges = if default_acl {
        None
    } else {
        Some(privileges(c, oid).await.map_err(err)?)
    };
    let security_labels = security_labels(c, oid).await.map_err(err)?;

    Ok(Some(PgDatabaseProperties {
        owner: get("owner").unwrap_or_default(),
        encoding: get("enc").unwrap_or_else(|| "UTF8".into()),
        locale_provider: get("provider")
            .as_deref()
            .and_then(PgLocaleProvider::from_catalog),
        collate: get("coll").unwrap_or_default(),
        ctype: get("ctype").unwrap_or_default(),
        locale: get("locale"),
        icu_rules: get("rules"),
        connection_limit: row.try_get("connlimit").unwrap_or(-1),
        tablespace: get("tablespace"),
        comment: get("comment"),
        settings,
        privileges,
        security_labels,
    }))
}

/// `ALTER DATABASE … SET` and `ALTER ROLE … IN DATABASE … SET` of database `oid`.
async fn settings(c: &mut PgConnection, oid: i64) -> Result<Vec<PgSetting>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE r.rolname::text END AS role, c.item AS item \
         FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole, \
         unnest(s.setconfig) WITH ORDINALITY AS c(item, n) \
         WHERE s.setdatabase = $1::oid AND (s.setrole = 0 OR r.oid IS NOT NULL) \
         ORDER BY s.setrole <> 0, r.rolname, c.n",
    )
    .bind(oid)
    .fetch_all(&mut *c)
    .await
    ?
    .into_iter()
    .filter_map(|r| {
        let item: String = r.try_get("item").ok()?;
        let (name, value) = item.split_once('=')?;
        Some(PgSetting {
            role: r.try_get("role").ok()?,
            name: name.to_string(),
            value: value.to_string(),
        })
    })
    .collect())
}

/// The explicit privileges on database `oid`.
async fn privileges(c: &mut PgConnection, oid: i64) -> Result<Vec<PgDatabaseGrant>, sqlx::Error> {
    let rows = sqlx::query(
            "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee)::text END AS grantee, \
             a.privilege_type::text AS privilege, a.is_grantable AS grantable \
             FROM pg_database d, aclexplode(d.datacl) a WHERE d.oid = $1::oid \
             ORDER BY a.grantee <> 0, 1, 2",
        )
        .bind(oid)
        .fetch_all(&mut *c)
        .await
        ?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let privilege: String = r.try_get("privilege").ok()?;
            Some(PgDatabaseGrant {
                grantee: r.try_get("grantee").ok()?,
                privilege: PgDatabasePrivilege::from_catalog(&privilege)?,
                grantable: r.try_get("grantable").unwrap_or(false),
            })
        })
        .collect())
}

/// The security labels on database `oid`.
async fn security_labels(
    c: &mut PgConnection,
    oid: i64,
) -> Result<Vec<PgSecurityLabel>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT provider::text AS provider, label::text AS label FROM pg_shseclabel \
         WHERE classoid = 'pg_database'::regclass AND objoid = $1::oid ORDER BY provider",
    )
    .bind(oid)
    .fetch_all(&mut *c)
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(PgSecurityLabel {
            provider: r.try_get("provider").ok()?,
            label: r.try_get("label").ok()?,
        })
    })
    .collect())
}

/// `CREATE DATABASE` options for `p` on a server of major version `major`: template0, the
/// encoding and locale, and (with `tablespace`) its default tablespace.
pub(crate) fn create_options(p: &PgDatabaseProperties, major: u32, tablespace: bool) -> String {
    let mut o = format!("TEMPLATE template0 ENCODING {}", pg_literal(&p.encoding));
    let provider = p.locale_provider.unwrap_or(PgLocaleProvider::Libc);
    if major >= 15 {
        o.push_str(&format!(" LOCALE_PROVIDER {}", provider.keyword()));
    }
    o.push_str(&format!(
        " LC_COLLATE {} LC_CTYPE {}",
        pg_literal(&p.collate),
        pg_literal(&p.ctype)
    ));
    if let Some(locale) = &p.locale {
        match provider {
            PgLocaleProvider::Icu if major >= 15 => {
                o.push_str(&format!(" ICU_LOCALE {}", pg_literal(locale)))
            }
            PgLocaleProvider::Builtin if major >= 17 => {
                o.push_str(&format!(" BUILTIN_LOCALE {}", pg_literal(locale)))
            }
            _ => {}
        }
    }
    if let (Some(rules), true) = (&p.icu_rules, major >= 16) {
        o.push_str(&format!(" ICU_RULES {}", pg_literal(rules)));
    }
    if let (Some(ts), true) = (&p.tablespace, tablespace) {
        o.push_str(&format!(" TABLESPACE {}", pg_ident(ts)));
    }
    o
}

/// Settings whose value is a list, split into elements when restored (the server's
/// `GUC_LIST_QUOTE` settings, as `pg_dump` knows them).
const LIST_SETTINGS: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// The statements that give database `db` (owned by `owner`) the properties `p` recorded,
/// after its contents are loaded. With `no_owner`, grants and per-role settings are left out
/// (the roles may not exist here). Each is independent: one that fails (a role this server
/// lacks, a label provider not loaded) is reported and the others still run.
pub(crate) fn statements(
    p: &PgDatabaseProperties,
    db: &str,
    owner: &str,
    no_owner: bool,
) -> Vec<String> {
    let target = pg_ident(db);
    let mut out = Vec::new();
    if let Some(comment) = &p.comment {
        out.push(format!(
            "COMMENT ON DATABASE {target} IS {}",
            pg_literal(comment)
        ));
    }
    for s in &p.settings {
        if s.role.is_some() && no_owner {
            continue;
        }
        let value = if LIST_SETTINGS.contains(&s.name.to_ascii_lowercase().as_str()) {
            let items: Vec<String> = split_pg_list(&s.value)
                .iter()
                .map(|v| pg_literal(v))
                .collect();
            if items.is_empty() {
                "''".to_string()
            } else {
                items.join(", ")
            }
        } else {
            pg_literal(&s.value)
        };
        let name = pg_ident(&s.name);
        out.push(match &s.role {
            None => format!("ALTER DATABASE {target} SET {name} TO {value}"),
            Some(role) => format!(
                "ALTER ROLE {} IN DATABASE {target} SET {name} TO {value}",
                pg_ident(role)
            ),
        });
    }
    if let (Some(grants), false) = (&p.privileges, no_owner) {
        out.extend(grant_statements(grants, &target, &p.owner, owner));
    }
    for l in &p.security_labels {
        out.push(format!(
            "SECURITY LABEL FOR {} ON DATABASE {target} IS {}",
            pg_ident(&l.provider),
            pg_literal(&l.label)
        ));
    }
    if p.connection_limit >= 0 {
        out.push(format!(
            "ALTER DATABASE {target} CONNECTION LIMIT {}",
            p.connection_limit
        ));
    }
    out
}

/// The database's privileges made exactly those recorded, starting from the defaults
/// (`PUBLIC`: CONNECT and TEMPORARY; the owner: all), and in an order that keeps the recorded
/// order of the privilege list: the first statement turns the defaults into an explicit list
/// (PUBLIC first, then the owner), changes to an entry keep its place (grants before revokes,
/// so an entry is never emptied and re-added), new grantees are appended in recorded order.
/// The source's owner's own privileges go to the owner here.
fn grant_statements(
    grants: &[PgDatabaseGrant],
    target: &str,
    source_owner: &str,
    owner: &str,
) -> Vec<String> {
    use PgDatabasePrivilege::{Connect, Temporary};
    let mut out = Vec::new();
    let stmt = |verb: &str, g: PgDatabasePrivilege, who: &str, option: bool| {
        let (prep, tail) = match verb {
            "GRANT" => ("TO", if option { " WITH GRANT OPTION" } else { "" }),
            _ => ("FROM", ""),
        };
        format!(
            "{verb} {} ON DATABASE {target} {prep} {who}{tail}",
            g.keyword()
        )
    };
    let owner_ident = pg_ident(owner);
    for (who, held, defaults) in [
        (
            "PUBLIC".to_string(),
            grants
                .iter()
                .filter(|g| g.grantee.is_none())
                .collect::<Vec<_>>(),
            &[Connect, Temporary][..],
        ),
        (
            owner_ident,
            grants
                .iter()
                .filter(|g| g.grantee.as_deref() == Some(source_owner))
                .collect(),
            &PgDatabasePrivilege::ALL[..],
        ),
    ] {
        for g in &held {
            if !defaults.contains(&g.privilege) || (g.grantable && who != "PUBLIC") {
                out.push(stmt(
                    "GRANT",
                    g.privilege,
                    &who,
                    g.grantable && who != "PUBLIC",
                ));
            }
        }
        for p in defaults {
            if !held.iter().any(|g| g.privilege == *p) {
                out.push(stmt("REVOKE", *p, &who, false));
            }
        }
    }
    for g in grants {
        match g.grantee.as_deref() {
            Some(r) if r != source_owner => {
                out.push(stmt("GRANT", g.privilege, &pg_ident(r), g.grantable))
            }
            _ => {}
        }
    }
    if out.is_empty() {
        // Recorded explicitly, yet equal to the defaults: make the list explicit too.
        out.push(stmt("GRANT", Connect, "PUBLIC", false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> PgDatabaseProperties {
        PgDatabaseProperties {
            owner: "own\"er".into(),
            encoding: "LATIN1".into(),
            locale_provider: Some(PgLocaleProvider::Icu),
            collate: "C".into(),
            ctype: "C".into(),
            locale: Some("de-DE".into()),
            icu_rules: None,
            connection_limit: 7,
            tablespace: Some("fast".into()),
            comment: Some("it's'; ALTER ROLE x SUPERUSER; --".into()),
            settings: vec![
                PgSetting {
                    role: None,
                    name: "search_path".into(),
                    value: "\"$user\", \"we ird\", public".into(),
                },
                PgSetting {
                    role: None,
                    name: "work_mem".into(),
                    value: "8MB".into(),
                },
                PgSetting {
                    role: Some("read\"er".into()),
                    name: "statement_timeout".into(),
                    value: "5s".into(),
                },
            ],
            privileges: Some(vec![
                PgDatabaseGrant {
                    grantee: Some("own\"er".into()),
                    privilege: PgDatabasePrivilege::Create,
                    grantable: false,
                },
                PgDatabaseGrant {
                    grantee: Some("own\"er".into()),
                    privilege: PgDatabasePrivilege::Connect,
                    grantable: false,
                },
                PgDatabaseGrant {
                    grantee: Some("own\"er".into()),
                    privilege: PgDatabasePrivilege::Temporary,
                    grantable: false,
                },
                PgDatabaseGrant {
                    grantee: Some("read\"er".into()),
                    privilege: PgDatabasePrivilege::Connect,
                    grantable: true,
                },
            ]),
            security_labels: vec![],
        }
    }

    #[test]
    fn statements_quote_every_name_and_value() {
        let s = statements(&props(), "db\"x", "new owner", false);
        assert_eq!(
            s,
            vec![
                "COMMENT ON DATABASE \"db\"\"x\" IS E'it''s''; ALTER ROLE x SUPERUSER; --'",
                "ALTER DATABASE \"db\"\"x\" SET \"search_path\" TO E'$user', E'we ird', E'public'",
                "ALTER DATABASE \"db\"\"x\" SET \"work_mem\" TO E'8MB'",
                "ALTER ROLE \"read\"\"er\" IN DATABASE \"db\"\"x\" SET \"statement_timeout\" TO E'5s'",
                "REVOKE CONNECT ON DATABASE \"db\"\"x\" FROM PUBLIC",
                "REVOKE TEMPORARY ON DATABASE \"db\"\"x\" FROM PUBLIC",
                "GRANT CONNECT ON DATABASE \"db\"\"x\" TO \"read\"\"er\" WITH GRANT OPTION",
                "ALTER DATABASE \"db\"\"x\" CONNECTION LIMIT 7",
            ]
        );
        let s = statements(&props(), "d", "o", true);
        assert_eq!(s.len(), 4, "{s:?}");
        assert!(s.iter().all(|x| !x.starts_with("GRANT")
            && !x.starts_with("REVOKE")
            && !x.starts_with("ALTER ROLE")));
    }

    #[test]
    fn an_owner_without_all_its_privileges_keeps_only_those() {
        let mut p = props();
        if let Some(g) = p.privileges.as_mut() {
            g.retain(|g| {
                !(g.grantee.as_deref() == Some("own\"er")
                    && g.privilege == PgDatabasePrivilege::Create)
            });
        }
        let s = grant_statements(p.privileges.as_ref().unwrap(), "\"d\"", "own\"er", "o");
        assert_eq!(
            s,
            vec![
                "REVOKE CONNECT ON DATABASE \"d\" FROM PUBLIC",
                "REVOKE TEMPORARY ON DATABASE \"d\" FROM PUBLIC",
                "REVOKE CREATE ON DATABASE \"d\" FROM \"o\"",
                "GRANT CONNECT ON DATABASE \"d\" TO \"read\"\"er\" WITH GRANT OPTION",
            ]
        );
        // Defaults recorded explicitly stay explicit.
        let defaults = vec![
            PgDatabaseGrant {
                grantee: None,
                privilege: PgDatabasePrivilege::Temporary,
                grantable: false,
            },
            PgDatabaseGrant {
                grantee: None,
                privilege: PgDatabasePrivilege::Connect,
                grantable: false,
            },
        ];
        let mut all = defaults.clone();
        for p in PgDatabasePrivilege::ALL {
            all.push(PgDatabaseGrant {
                grantee: Some("o".into()),
                privilege: p,
                grantable: false,
            });
        }
        assert_eq!(
            grant_statements(&all, "\"d\"", "o", "n"),
            vec!["GRANT CONNECT ON DATABASE \"d\" TO PUBLIC"]
        );
    }

    #[test]
    fn create_options_follow_the_server_major() {
        let p = props();
        assert_eq!(
            create_options(&p, 15, true),
            "TEMPLATE template0 ENCODING E'LATIN1' LOCALE_PROVIDER icu LC_COLLATE E'C' LC_CTYPE E'C' ICU_LOCALE E'de-DE' TABLESPACE \"fast\""
        );
        assert_eq!(
            create_options(&p, 14, false),
            "TEMPLATE template0 ENCODING E'LATIN1' LC_COLLATE E'C' LC_CTYPE E'C'"
        );
    }
}
