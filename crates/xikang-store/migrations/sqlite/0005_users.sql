-- People who log in to the web pages: a name, an argon2 password hash (PHC string), one
-- role and one jurisdiction, like an API token. Sessions are stored under the SHA-256 of
-- the cookie value, never the value.
create table users (
    name text primary key,
    password_hash text not null,
    role text not null,
    area text not null,
    venue integer,
    person integer,
    id_lookup integer not null default 0,
    disabled integer not null default 0,
    created_at integer not null
);

create table sessions (
    session_sha256 blob primary key,
    user_name text not null references users (name),
    created_at integer not null,
    expires_at integer not null
);
create index sessions_expiry on sessions (expires_at);
