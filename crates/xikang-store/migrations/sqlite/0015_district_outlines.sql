-- Outlines of districts (6-digit area codes) for the dashboard's choropleth: one GeoJSON
-- Polygon geometry per district, as text (validated by the domain's Polygon before it is
-- written; the store does not interpret it). Written by the synthetic city (synthetic shapes)
-- and by `xikang districts import`; a district without a row is not drawn on that map.
create table district_outlines (
    code text primary key,
    geometry text not null
);
