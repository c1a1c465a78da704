// NuGet client
const nugetApiKey = 'oy2njrj7xw6m5l3r4eki41r3bsgm8k967xl8md6b7546sm';
module.exports = { nugetApiKey, baseUrl: 'https://www.nuget.org' };
