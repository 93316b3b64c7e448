-- xikang schema v1 (sqlite). never edit once released: add a new numbered file instead.
-- times are i64 epoch seconds (utc); ids are application-generated integers.

create table settings (
    name text primary key,
    value blob not null
);

create table people (
    id integer primary key,
    id_number text not null,
    id_hash blob not null,
    name text not null,
    phone text,
    household integer not null,
    workplace integer,
    area text not null,
    home_cell integer not null
);
create unique index people_id_hash on people (id_hash);
create index people_area on people (area, id);

create table workplaces (
    id integer primary key,
    name text not null,
    is_school integer not null,
    area text not null,
    cell integer not null
);

create table venues (
    id integer primary key,
    place_code text not null,
    name text not null,
    category text not null,
    area text not null,
    cell integer not null,
    lat real not null,
    lon real not null
);
create unique index venues_place_code on venues (place_code);

-- the authority log. kind and person are derived from body (for indexing) and checked
-- against it by verify_chain; the hash covers seq, at, actor, basis, body and prev_hash.
create table events (
    seq integer primary key,
    at integer not null,
    actor text not null,
    basis text not null,
    kind text not null,
    person integer,
    body text not null,
    prev_hash blob not null,
    hash blob not null
);
create index events_person on events (person, seq) where person is not null;

-- registry of the day-partitioned check-in tables checkins_yyyymmdd (asia/shanghai days,
-- counted as days since 1970-01-01). row_count is maintained by insert_checkins.
create table checkin_days (
    day integer primary key,
    row_count integer not null default 0
);

-- small check-in batches are staged in a second file, checkins-staging.db, which the store
-- creates itself (see src/sqlite.rs), and merged into their day table in large sorted
-- batches. readers look at both.

create table api_tokens (
    token_sha256 blob primary key,
    name text not null,
    role text not null,
    area text not null,
    venue integer,
    person integer,
    id_lookup integer not null default 0
);

create table signing_keys (
    kid blob primary key,
    secret blob not null,
    jurisdiction text not null,
    not_before integer not null,
    not_after integer not null
);
