-- duties (issue 5): the administrative grid and its workers, quarantine sites and orders,
-- daily health reports, grid tasks, zones and their proposals, the origin risk list,
-- arrivals and sentinels. read models beside the authority log: the events stay the truth.
-- never edit once released: add a new numbered file instead.

create table grid_cells (
    cell bigint primary key,
    community text not null,
    name text not null,
    lat double precision not null,
    lon double precision not null,
    worker text
);
create index grid_cells_worker on grid_cells (worker, cell) where worker is not null;

create table quarantine_sites (
    id bigint primary key,
    name text not null,
    kind text not null,
    area text not null,
    lat double precision not null,
    lon double precision not null,
    capacity bigint not null check (capacity >= 0),
    occupancy bigint not null default 0 check (occupancy >= 0),
    manager text
);

create table quarantine_orders (
    id bigint primary key,
    person bigint not null,
    regime text not null,
    kind text not null,
    reason text not null,
    site bigint,
    start_at bigint not null,
    planned_end bigint not null,
    ended_at bigint,
    status text not null,
    follows bigint,
    then_phase bigint not null default 0
);
create index quarantine_orders_person on quarantine_orders (person, id);
create index quarantine_orders_active on quarantine_orders (status, id);

create table health_reports (
    person bigint not null,
    day bigint not null,
    at bigint not null,
    temperature_tenths bigint not null,
    symptoms text not null,
    reporter text not null,
    primary key (person, day, at)
);
create index health_reports_day on health_reports (day, person);

-- open tasks are found per cell in due order through the partial index; done tasks stay
-- for the record and cost the index nothing.
create table grid_tasks (
    id bigint primary key,
    cell bigint not null,
    kind text not null,
    person bigint,
    household bigint,
    detail text not null,
    created_at bigint not null,
    due_at bigint not null,
    done_at bigint,
    done_by text,
    note text,
    dedupe text unique
);
create index grid_tasks_open on grid_tasks (cell, due_at, id) where done_at is null;

create table zones (
    id bigint primary key,
    name text not null,
    level text not null,
    cells text not null,
    since bigint not null,
    drawn_by text not null,
    lifted_at bigint
);

create table zone_proposals (
    id bigint primary key,
    zone bigint not null,
    action text not null,
    to_level text,
    proposer text not null,
    conditions text not null,
    proposed_at bigint not null,
    status text not null,
    decided_by text,
    decided_at bigint
);
create index zone_proposals_zone on zone_proposals (zone, id);

create table origins (
    code text primary key,
    name text not null,
    risk text not null,
    updated_at bigint not null,
    updated_by text not null
);

create table arrivals (
    id bigint primary key,
    person bigint not null,
    origin text not null,
    risk text not null,
    regime text not null,
    planned_at bigint not null,
    arrived_at bigint,
    registered_at bigint not null
);

create table sentinels (
    venue bigint primary key,
    kind text not null,
    registered_at bigint not null,
    registered_by text not null
);

-- application-generated ids of the duty tables (a gap after a refused write is harmless).
create table duty_ids (
    kind text primary key,
    next_id bigint not null
);

-- sealing a zone finds its households by home cell.
create index people_home_cell on people (home_cell, household);
