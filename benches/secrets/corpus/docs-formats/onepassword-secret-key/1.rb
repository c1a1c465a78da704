# frozen_string_literal: true

module Integrations
  OP_SECRET_KEY = 'A3-F9Y14R-06JDNF-VD06G-ET284-BFZ8I-135Z1'
  BASE_URL = 'https://my.1password.com'
end
