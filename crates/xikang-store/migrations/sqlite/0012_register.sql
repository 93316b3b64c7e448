-- The resident register (实有人口, docs/register.md). An import keeps each person's address
-- (the text the register writes; community and home_cell are where it lies), how they are
-- registered (resident or floating) and, for floating population, the day they were
-- registered. People from elsewhere (the synthetic city) have an empty address.
alter table people add column address text not null default '';
alter table people add column kind text not null default 'resident';
alter table people add column registered_on integer;

-- The register's household numbers (户号) and the household ids they were given; ids
-- continue after those already used by people.
create table households (
    key text primary key,
    id integer not null unique
);
