-- xikang schema v1 (postgresql). never edit once released: add a new numbered file instead.
-- times are i64 epoch seconds (utc); ids are application-generated integers (u32 in the
-- domain, hence bigint). portable subset: no extensions, no postgis, no serial columns.

create table settings (
    name text primary key,
    value bytea not null
);

create table people (
    id bigint primary key,
    id_number text not null,
    id_hash bytea not null,
    name text not null,
    phone text,
    household bigint not null,
    workplace bigint,
    area text not null,
    home_cell bigint not null
);
create unique index people_id_hash on people (id_hash);
create index people_area on people (area, id);

create table workplaces (
    id bigint primary key,
    name text not null,
    is_school boolean not null,
    area text not null,
    cell bigint not null
);

create table venues (
    id bigint primary key,
    place_code text not null,
    name text not null,
    category text not null,
    area text not null,
    cell bigint not null,
    lat double precision not null,
    lon double precision not null
);
create unique index venues_place_code on venues (place_code);

-- the authority log. kind and person are derived from body (for indexing) and checked
-- against it by verify_chain; the hash covers seq, at, actor, basis, body and prev_hash.
create table events (
    seq bigint primary key,
    at bigint not null,
    actor text not null,
    basis text not null,
    kind text not null,
    person bigint,
    body text not null,
    prev_hash bytea not null,
    hash bytea not null
);
create index events_person on events (person, seq) where person is not null;

-- registry of the day-partitioned check-in tables checkins_yyyymmdd (asia/shanghai days,
-- counted as days since 1970-01-01). row_count is maintained by insert_checkins.
create table checkin_days (
    day integer primary key,
    row_count bigint not null default 0
);

create table api_tokens (
    token_sha256 bytea primary key,
    name text not null,
    role text not null,
    area text not null,
    venue bigint,
    person bigint,
    id_lookup boolean not null default false
);

create table signing_keys (
    kid bytea primary key,
    secret bytea not null,
    jurisdiction text not null,
    not_before bigint not null,
    not_after bigint not null
);
