# frozen_string_literal: true

module Integrations
  BITBUCKET_APP_PASSWORD = 'ATBBEvF9muNsMQoWvaSgysGQaiaM7mmOftTH'
  BASE_URL = 'https://api.bitbucket.org'
end
