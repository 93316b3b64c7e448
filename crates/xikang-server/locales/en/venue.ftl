# The venue texts (English); ids shared with ../zh-CN/venue.ftl.

venue-place-code = Place code
venue-health-code-scanner-gun-or-paste = Health code (scanner gun or paste)
venue-a-scanner-gun-submits-by-itself = A scanner gun submits by itself.
venue-check = Check
venue-print-the-venue-poster = Print the venue poster
venue-cannot-check = Cannot check
venue-allow = ✔ ALLOW
venue-deny = ✘ DENY
venue-hours-since-the-last-negative-sample = Hours since the last negative sample
venue-print = Print
venue-venue-poster = Venue poster
