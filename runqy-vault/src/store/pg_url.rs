//! The parts of a PostgreSQL URL, split once, before anything can fail, so
//! that every message and `Display` is made from parts with the password
//! already taken out (issue 17: a password with an unencoded `/` or `?`
//! must not reach a parse error).
//!
//! `postgres://[user[:password]@][host][:port][,host[:port]...][/dbname][?k=v&...]`,
//! as libpq reads it. A URL whose user info cannot be told apart from the
//! rest (an `@` after the first `/` or `?` while the part before holds a `:`
//! and no `@`: `postgres://u:pa/ss@host/db`) is refused as ambiguous: it is
//! shown as `postgres://***`, and opening it fails saying that a password
//! must be percent-encoded.

/// A URL split into its parts; the password is only ever read by [`Parts::password`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts<'u> {
    /// `postgres` or `postgresql`.
    pub scheme: &'u str,
    /// The user, percent-encoded, as written.
    pub user: Option<&'u str>,
    password: Option<&'u str>,
    /// The host list, as written (`h1:5432,h2`), maybe empty.
    pub hosts: &'u str,
    /// The database, percent-encoded, as written; maybe empty.
    pub dbname: &'u str,
    /// The query parameters as written (`key`, `value`), in order.
    pub params: Vec<(&'u str, &'u str)>,
}

/// Why a URL cannot be split without risking its password in a message.
pub(crate) const AMBIGUOUS: &str =
    "the URL cannot be read: an '@' comes after a '/' or '?' that follows a ':' \
     (a password holding '/', '?', '@' or '#' must be percent-encoded, e.g. '/' as %2F)";

impl<'u> Parts<'u> {
    /// Splits `url`; `Err(AMBIGUOUS)` when the user info cannot be found for sure.
    pub(crate) fn split(url: &'u str) -> Result<Parts<'u>, &'static str> {
        let (scheme, rest) = url.split_once("://").ok_or("the URL has no '://'")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (Some(user), Some(password)),
                None => (Some(info), None),
            },
            None => (None, None),
        };
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        let params: Vec<(&str, &str)> = query
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.split_once('=').unwrap_or((p, "")))
                    .collect()
            })
            .unwrap_or_default();
        // A password's '/' or '?' ends the authority early, and the rest of it
        // would show as the path or the query: `u:pa/ss@h/db`, `u:p@x?y@h`.
        // An '@' in a query *value* is ordinary (`sslrootcert=/home/a@b/ca.crt`)
        // unless no user info was found while a ':' might begin a password.
        let at_in_path_or_key = path.contains('@') || params.iter().any(|(k, _)| k.contains('@'));
        let at_in_value = params.iter().any(|(_, v)| v.contains('@'));
        if at_in_path_or_key || (userinfo.is_none() && authority.contains(':') && at_in_value) {
            return Err(AMBIGUOUS);
        }
        Ok(Parts {
            scheme,
            user: user.filter(|u| !u.is_empty()),
            password,
            hosts,
            dbname: path.strip_prefix('/').unwrap_or(path),
            params,
        })
    }

    /// The password, percent-encoded, as written: only for connecting.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn password(&self) -> Option<&'u str> {
        self.password
    }

    /// The last value of query parameter `key`, as written.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn param(&self, key: &str) -> Option<&'u str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// The URL with every password (user info, `password=`) as `***`.
    pub(crate) fn redacted(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if let Some(user) = self.user {
            out.push_str(user);
        }
        if self.password.is_some() {
            out.push_str(":***");
        }
        if self.user.is_some() || self.password.is_some() {
            out.push('@');
        }
        out.push_str(self.hosts);
        if !self.dbname.is_empty() {
            out.push('/');
            out.push_str(self.dbname);
        }
        for (i, (k, v)) in self.params.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(if k.eq_ignore_ascii_case("password") {
                "***"
            } else {
                v
            });
        }
        out
    }

    /// "PostgreSQL database 'db' at host:port", for every error of the store.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn describe(&self) -> String {
        let decoded = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = self.param("user").or(self.user).map(decoded);
        let db = match self
            .param("dbname")
            .or(Some(self.dbname).filter(|d| !d.is_empty()))
        {
            Some(db) => decoded(db),
            // PostgreSQL's default: the user's name.
            None => user.unwrap_or_else(|| "(the default)".to_owned()),
        };
        let mut host = match self
            .param("host")
            .or(Some(self.hosts).filter(|h| !h.is_empty()))
        {
            Some(host) => decoded(host),
            None => "localhost".to_owned(),
        };
        if let Some(port) = self.param("port") {
            host = format!("{host}:{}", decoded(port));
        }
        format!("PostgreSQL database '{db}' at {host}")
    }
}

/// The URL as shown everywhere: passwords hidden, an ambiguous URL hidden whole.
pub(crate) fn redacted(url: &str) -> String {
    match Parts::split(url) {
        Ok(parts) => parts.redacted(),
        Err(_) => {
            let scheme = url.split_once("://").map_or("postgres", |(s, _)| s);
            format!("{scheme}://***")
        }
    }
}

/// The store's label for a URL: host and database, or, for a URL that
/// cannot be split, only that it is one.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn describe(url: &str) -> String {
    match Parts::split(url) {
        Ok(parts) => parts.describe(),
        Err(_) => "PostgreSQL database (URL not shown)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgresql_password_with_an_unencoded_slash_or_question_mark_is_never_shown() {
        for url in [
            "postgres://user:SECRET/PW@host/db",
            "postgres://user:SECRET?PW@host/db",
            "postgresql://user:SECRET/PW@host:5432/db?sslmode=require",
            "postgres://user:1234/SECRET@host/db",
            "postgres://user:12?a=SECRET@host/db",
            "postgres://user:SE@CRET?PW@host/db",
        ] {
            assert_eq!(Parts::split(url), Err(AMBIGUOUS), "{url}");
            let shown = format!("{} {}", redacted(url), describe(url));
            assert!(
                !shown.contains("SECRET") && !shown.contains("1234") && !shown.contains("12?"),
                "{shown}"
            );
        }
        assert_eq!(redacted("postgresql://u:a/b@h/d"), "postgresql://***");
    }

    #[test]
    fn passwords_with_at_signs_colons_and_hashes_stay_inside_the_user_info() {
        let parts =
            Parts::split("postgres://u:p@ss:w#rd@db.internal:5433/vault?sslmode=verify-full")
                .unwrap();
        assert_eq!(parts.user, Some("u"));
        assert_eq!(parts.password(), Some("p@ss:w#rd"));
        assert_eq!(parts.hosts, "db.internal:5433");
        assert_eq!(parts.dbname, "vault");
        assert_eq!(parts.param("sslmode"), Some("verify-full"));
        assert_eq!(
            parts.redacted(),
            "postgres://u:***@db.internal:5433/vault?sslmode=verify-full"
        );
        assert_eq!(
            parts.describe(),
            "PostgreSQL database 'vault' at db.internal:5433"
        );
    }

    #[test]
    fn an_at_sign_in_a_query_value_is_fine_when_the_user_info_is_known_or_has_no_colon() {
        let parts = Parts::split("postgres://u:pw@h/db?sslrootcert=/home/a@b/ca.crt").unwrap();
        assert_eq!(parts.param("sslrootcert"), Some("/home/a@b/ca.crt"));
        assert_eq!(
            parts.redacted(),
            "postgres://u:***@h/db?sslrootcert=/home/a@b/ca.crt"
        );
        let parts = Parts::split("postgres://h/db?application_name=a@b").unwrap();
        assert_eq!(parts.user, None);
        assert_eq!(parts.hosts, "h");
    }

    #[test]
    fn describe_takes_host_port_and_database_from_the_query_too() {
        assert_eq!(
            describe("postgres:///?host=/run/pg&port=5433&dbname=v&password=x"),
            "PostgreSQL database 'v' at /run/pg:5433"
        );
        assert_eq!(
            describe("postgresql://runqy@10.0.0.5"),
            "PostgreSQL database 'runqy' at 10.0.0.5"
        );
        assert_eq!(
            describe("postgres:///x"),
            "PostgreSQL database 'x' at localhost"
        );
        assert_eq!(
            redacted("postgres://h/d?password=s3cr3t&sslmode=disable"),
            "postgres://h/d?password=***&sslmode=disable"
        );
    }
}
