-- People who log in to the web pages: a name, an argon2 password hash (PHC string), one
-- role and one jurisdiction, like an API token. Sessions are stored under the SHA-256 of
-- the cookie value, never the value.
create table users (
    name text primary key,
    password_hash text not null,
    role text not null,
    area text not null,
    venue bigint,
    person bigint,
    id_lookup boolean not null default false,
    disabled boolean not null default false,
    created_at bigint not null
);

create table sessions (
    session_sha256 bytea primary key,
    user_name text not null references users (name),
    created_at bigint not null,
    expires_at bigint not null
);
create index sessions_expiry on sessions (expires_at);
