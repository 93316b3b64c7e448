# The map texts (English); ids shared with ../zh-CN/map.ftl.

map-grid-cells-by-zone-level = Grid cells by zone level
map-grid-cells-by-cases-in-the-last-14 = Grid cells by cases in the last 14 days
map-red-codes-per-10-000-residents-by = Red codes per 10,000 residents by district
map-red-per-10-000 = Red per 10,000
map-open-cases = Open cases
map-sealed-high-risk = sealed / high risk
map-controlled-medium-risk = controlled / medium risk
map-precaution-low-risk = precaution / low risk
map-no-zone = no zone
map-5-or-more-cases = 5 or more cases
map-2-4-cases = 2–4 cases
map-1-case = 1 case
map-no-case = no case
map-legend-cells = { $class }: { $n } cells
map-no-red-code = no red code
map-district-hover = { $name }: { $red } red codes, { $rate } per 10,000 residents; { $cases } open cases; { $residents } residents
