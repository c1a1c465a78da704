# frozen_string_literal: true

module Integrations
  TYPEFORM_TOKEN = 'tfp_ZDUZls_0NsFVl9YNRIHxJ-7bvd_M57AzDiwZYn3cvN3k_ZjVj2BkvEApPIo'
  BASE_URL = 'https://api.typeform.com'
end
