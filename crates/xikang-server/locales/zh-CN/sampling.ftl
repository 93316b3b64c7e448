# The sampling texts (Chinese); ids shared with ../en/sampling.ftl.

sampling-tube-barcode = 试管条码
sampling-health-codes-scanner-gun-or-paste = 健康码（扫码枪逐个扫描或粘贴，每行一个）
sampling-a-scanner-gun-starts-a-new-line = 扫码枪每扫一人自动换行；无法扫码时可输入身份证号（需授权）。试管装满后自动封管。
sampling-bind-to-the-tube = 绑定到试管
sampling-seal-the-tube = 封管
sampling-sealed = 已封管：
sampling-scan-at-least-one-code = 请扫描至少一个健康码
sampling-code = 第
sampling-bound = 绑定结果
sampling-bound-count = 已绑定 { $bound } 人，拒绝 { $refused } 个。
sampling-at-most = 一次最多 { $n } 个
sampling-tube-status = 试管 { $tube } 已采 { $members } / { $capacity } 人，状态：{ $state }。
