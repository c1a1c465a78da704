# frozen_string_literal: true

module Integrations
  YC_API_KEY = 'AQVNZ8Rnm5p7EdPWNMuOI6URKNutY5pA26gGF6ZF'
  BASE_URL = 'https://compute.api.cloud.yandex.net'
end
