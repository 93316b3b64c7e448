-- Names of administrative areas (district 6 digits, street 9, community 12; GB/T 2260 and
-- its local extensions), so that pages can say 梁溪区 instead of 320213. Written by the
-- synthetic city and by imports; an area without a row is shown by its code.
create table area_names (
    code text primary key,
    name text not null
);
