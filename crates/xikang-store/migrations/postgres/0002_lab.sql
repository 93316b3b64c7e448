-- xikang schema v2 (postgres): testing and vaccination. never edit once released.
-- times are i64 epoch seconds (utc); ids are application-generated integers.

create table lab_sites (
    id bigint primary key,
    name text not null,
    area text not null,
    cell bigint not null
);

-- a screening round: cells is a comma-separated list of grid cells ('' = the whole area);
-- pool sizes per zone level of the sampling site.
create table lab_rounds (
    id bigint primary key,
    name text not null,
    area text not null,
    cells text not null,
    starts_at bigint not null,
    deadline bigint not null,
    pool_sealed integer not null,
    pool_controlled integer not null,
    pool_other integer not null,
    closed_at bigint
);

-- state: 0 open, 1 sealed, 2 in transport, 3 received, 4 resulted, 5 invalid.
-- outcome: 0 negative, 1 positive, 2 invalid.
create table lab_tubes (
    id bigint primary key,
    barcode text not null,
    site bigint not null,
    round bigint,
    capacity integer not null,
    state integer not null,
    opened_at bigint not null,
    sealed_at bigint,
    batch bigint,
    shipped_at bigint,
    received_at bigint,
    resulted_at bigint,
    outcome integer,
    ct real,
    lab text
);
create unique index lab_tubes_barcode on lab_tubes (barcode);

-- one swab of one person in one tube. a person is sampled once per round (null round:
-- tests outside a round, any number).
create table lab_samples (
    tube bigint not null,
    person bigint not null,
    round bigint,
    sampled_at bigint not null,
    primary key (tube, person)
);
create unique index lab_samples_person_round on lab_samples (person, round);

create table lab_batches (
    id bigint primary key,
    courier text not null,
    lab text not null,
    handed_at bigint not null,
    received_at bigint,
    tubes integer not null
);

create table lab_tasks (
    id bigint primary key,
    person bigint not null,
    kind text not null,
    tube bigint,
    created_at bigint not null,
    done_at bigint
);
create index lab_tasks_open on lab_tasks (person) where done_at is null;

create table vaccinations (
    person bigint not null,
    dose integer not null,
    vaccine text not null,
    given_on integer not null,
    site text not null,
    primary key (person, dose)
);
