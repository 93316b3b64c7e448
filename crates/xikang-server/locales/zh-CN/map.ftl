# The map texts (Chinese); ids shared with ../en/map.ftl.

map-grid-cells-by-zone-level = 网格风险区划图
map-grid-cells-by-cases-in-the-last-14 = 近14天病例分布图
map-red-codes-per-10-000-residents-by = 各区红码人数（每万居民）
map-red-per-10-000 = 每万居民红码
map-open-cases = 在治病例
map-sealed-high-risk = 封控区 / 高风险区
map-controlled-medium-risk = 管控区 / 中风险区
map-precaution-low-risk = 防范区 / 低风险区
map-no-zone = 未划定
map-5-or-more-cases = 5 例及以上
map-2-4-cases = 2–4 例
map-1-case = 1 例
map-no-case = 无病例
map-legend-cells = { $class } { $n } 个网格
map-no-red-code = 无红码
map-district-hover = { $name }：红码 { $red } 人，每万居民 { $rate }；在治病例 { $cases }；居民 { $residents }
