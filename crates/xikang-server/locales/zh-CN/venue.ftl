# The venue texts (Chinese); ids shared with ../en/venue.ftl.

venue-place-code = 场所码
venue-health-code-scanner-gun-or-paste = 健康码（扫码枪扫描或粘贴）
venue-a-scanner-gun-submits-by-itself = 扫码枪扫描后会自动提交。
venue-check = 查验
venue-print-the-venue-poster = 打印场所海报
venue-cannot-check = 无法查验
venue-allow = ✔ 允许进入
venue-deny = ✘ 禁止进入
venue-hours-since-the-last-negative-sample = 距最近阴性采样（小时）
venue-print = 打印
venue-venue-poster = 场所海报
