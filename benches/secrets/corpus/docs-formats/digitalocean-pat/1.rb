# frozen_string_literal: true

module Integrations
  DIGITALOCEAN_TOKEN = 'dop_v1_d86d1f88973162956da09cdc77c43b260257ecdb037230658be2420f4da6b140'
  BASE_URL = 'https://api.digitalocean.com'
end
