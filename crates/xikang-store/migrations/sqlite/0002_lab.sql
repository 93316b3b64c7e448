-- xikang schema v2 (sqlite): testing and vaccination. never edit once released.
-- times are i64 epoch seconds (utc); ids are application-generated integers.

create table lab_sites (
    id integer primary key,
    name text not null,
    area text not null,
    cell integer not null
);

-- a screening round: cells is a comma-separated list of grid cells ('' = the whole area);
-- pool sizes per zone level of the sampling site.
create table lab_rounds (
    id integer primary key,
    name text not null,
    area text not null,
    cells text not null,
    starts_at integer not null,
    deadline integer not null,
    pool_sealed integer not null,
    pool_controlled integer not null,
    pool_other integer not null,
    closed_at integer
);

-- state: 0 open, 1 sealed, 2 in transport, 3 received, 4 resulted, 5 invalid.
-- outcome: 0 negative, 1 positive, 2 invalid.
create table lab_tubes (
    id integer primary key,
    barcode text not null,
    site integer not null,
    round integer,
    capacity integer not null,
    state integer not null,
    opened_at integer not null,
    sealed_at integer,
    batch integer,
    shipped_at integer,
    received_at integer,
    resulted_at integer,
    outcome integer,
    ct real,
    lab text
);
create unique index lab_tubes_barcode on lab_tubes (barcode);

-- one swab of one person in one tube. a person is sampled once per round (null round:
-- tests outside a round, any number).
create table lab_samples (
    tube integer not null,
    person integer not null,
    round integer,
    sampled_at integer not null,
    primary key (tube, person)
) without rowid;
create unique index lab_samples_person_round on lab_samples (person, round);

create table lab_batches (
    id integer primary key,
    courier text not null,
    lab text not null,
    handed_at integer not null,
    received_at integer,
    tubes integer not null
);

create table lab_tasks (
    id integer primary key,
    person integer not null,
    kind text not null,
    tube integer,
    created_at integer not null,
    done_at integer
);
create index lab_tasks_open on lab_tasks (person) where done_at is null;

create table vaccinations (
    person integer not null,
    dose integer not null,
    vaccine text not null,
    given_on integer not null,
    site text not null,
    primary key (person, dose)
) without rowid;
