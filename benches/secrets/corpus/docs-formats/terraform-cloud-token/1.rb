# frozen_string_literal: true

module Integrations
  TFE_TOKEN = '4RY6juM5HK1V2e.atlasv1.-Cyt5MkQ1Z-I99kJSsctR9Ni39lz7wr_TyOQ70J3NAtvEejCcaXLnm2AKlaYjzhU82R'
  BASE_URL = 'https://app.terraform.io'
end
