# The sampling texts (English); ids shared with ../zh-CN/sampling.ftl.

sampling-tube-barcode = Tube barcode
sampling-health-codes-scanner-gun-or-paste = Health codes (scanner gun or paste, one a line)
sampling-a-scanner-gun-starts-a-new-line = A scanner gun starts a new line after each code; an ID number may be typed where a code cannot be scanned (if you are allowed). A full tube seals itself.
sampling-bind-to-the-tube = Bind to the tube
sampling-seal-the-tube = Seal the tube
sampling-sealed = Sealed:
sampling-scan-at-least-one-code = Scan at least one code
sampling-code = Code
sampling-bound = Bound
sampling-bound-count = { $bound } bound, { $refused } refused.
sampling-at-most = at most { $n } at once
sampling-tube-status = Tube { $tube }: { $members } of { $capacity } swabs, { $state }.
