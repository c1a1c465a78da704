# frozen_string_literal: true

module Integrations
  NEW_RELIC_LICENSE_KEY = 'd9c2902bb1008851d98373f74b8035282775NRAL'
  BASE_URL = 'https://collector.newrelic.com'
end
