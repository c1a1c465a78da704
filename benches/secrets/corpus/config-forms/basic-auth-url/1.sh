git clone https://reporting:DMKA0aZpZgywTCb1Ph4i@git.acme.io/platform/infra.git
