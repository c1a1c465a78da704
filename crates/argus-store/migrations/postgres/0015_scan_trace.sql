-- Traces (issue #18): the W3C `traceparent` of the request that started a scan, so a worker in
-- any process can make the scan's task spans children of that request's span. Set only while
-- the scan is `created` (`ScanStore::set_scan_trace`), and only when the server exports traces.
ALTER TABLE scans ADD COLUMN trace text;
