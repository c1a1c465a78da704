/*
    Argus YARA rules: cryptocurrency miners (binaries, configs, in-browser miners).
    SPDX-License-Identifier: Apache-2.0
*/

rule Miner_Stratum_Pool_URL : miner
{
    meta:
        description = "Stratum mining pool URL with wallet-style credentials"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "stratum+tcp://" ascii wide
        $s2 = "stratum+ssl://" ascii wide
        $s3 = "stratum+tls://" ascii wide
        $s4 = "stratum2+tcp://" ascii wide
    condition:
        filesize < 50MB and any of them
}

rule Miner_XMRig_Binary : miner malware
{
    meta:
        description = "XMRig Monero miner (binary or embedded build)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "XMRig" ascii wide
        $s2 = "xmrig.com" ascii
        $s3 = "--donate-level" ascii
        $s4 = "cryptonight" ascii
        $s5 = "randomx" nocase ascii
        $s6 = "\"nicehash\":" ascii
        $s7 = "POOL #" ascii
    condition:
        filesize < 50MB and (uint16(0) == 0x5A4D or uint32(0) == 0x464C457F) and $s1 and 2 of ($s2, $s3, $s4, $s5, $s6, $s7)
}

rule Miner_XMRig_Config : miner
{
    meta:
        description = "XMRig JSON configuration (pools with wallet user)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $p = "\"pools\"" ascii
        $u = "\"user\"" ascii
        $a1 = "\"donate-level\"" ascii
        $a2 = "\"randomx\"" ascii
        $a3 = "\"cpu\"" ascii
        $a4 = "\"coin\"" ascii
        $a5 = "\"algo\"" ascii
    condition:
        filesize < 1MB and $p and $u and 3 of ($a*)
}

rule Miner_Monero_Wallet_And_Pool : miner
{
    meta:
        description = "Monero wallet address next to a known mining pool host"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $w1 = /"user"\s*:\s*"4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}"/
        $w2 = /--user[= ]4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}/
        $p1 = "supportxmr.com" nocase ascii wide
        $p2 = "minexmr.com" nocase ascii wide
        $p3 = "nanopool.org" nocase ascii wide
        $p4 = "moneroocean.stream" nocase ascii wide
        $p5 = "hashvault.pro" nocase ascii wide
        $p6 = "c3pool.com" nocase ascii wide
        $p7 = "2miners.com" nocase ascii wide
        $p8 = "f2pool.com" nocase ascii wide
    condition:
        filesize < 50MB and any of ($w*) and any of ($p*)
}

rule Miner_Browser_Coinhive : miner javascript
{
    meta:
        description = "In-browser miner (Coinhive, CryptoLoot, JSEcoin and clones)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $c1 = "coinhive.min.js" nocase
        $c2 = "CoinHive.Anonymous" ascii
        $c3 = "CoinHive.User" ascii
        $c4 = "crypto-loot.com" nocase
        $c5 = "CRLT.Anonymous" ascii
        $c6 = "authedmine.com" nocase
        $c7 = "load.jsecoin.com" nocase
        $c8 = "coin-hive.com" nocase
    condition:
        filesize < 5MB and any of them
}

rule Miner_Linux_Kill_Competitors : miner linux malware
{
    meta:
        description = "Shell script that kills rival miners and starts its own (cloud/container cryptojacking)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $k1 = "pkill -f xmrig" ascii
        $k2 = "kill -9" ascii
        $k3 = "kinsing" ascii
        $k4 = "kdevtmpfsi" ascii
        $k5 = "pkill -f cryptonight" ascii
        $k6 = "killall -9 minerd" ascii
        $m1 = "stratum+tcp" ascii
        $m2 = "xmrig" ascii
        $m3 = "--donate-level" ascii
    condition:
        filesize < 2MB and 2 of ($k*) and any of ($m*)
}

rule Miner_Kinsing_Kdevtmpfsi : miner linux malware
{
    meta:
        description = "Kinsing campaign dropper and kdevtmpfsi miner"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "kdevtmpfsi" ascii
        $s2 = "kinsing" ascii
        $s3 = "/tmp/kdevtmpfsi" ascii
        $s4 = "libsystem.so" ascii
        $s5 = "d.sh" ascii
    condition:
        filesize < 20MB and 3 of them
}

rule Miner_CPUMiner_Minerd : miner
{
    meta:
        description = "cpuminer / minerd miner"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $s1 = "cpuminer" nocase ascii
        $s2 = "minerd" ascii
        $s3 = "--algo=" ascii
        $s4 = "--url=stratum" ascii
        $s5 = "scrypt" ascii
        $s6 = "getwork" ascii
    condition:
        filesize < 20MB and ($s1 or $s2) and 2 of ($s3, $s4, $s5, $s6)
}

rule Miner_Ethereum_Miners : miner
{
    meta:
        description = "GPU miners (PhoenixMiner, lolMiner, T-Rex, NBMiner, ethminer) with pool arguments"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $n1 = "PhoenixMiner" ascii wide
        $n2 = "lolMiner" ascii wide
        $n3 = "t-rex" ascii wide
        $n4 = "NBMiner" ascii wide
        $n5 = "ethminer" ascii wide
        $p1 = "-pool " ascii wide
        $p2 = "--pool " ascii wide
        $p3 = "-wal " ascii wide
        $p4 = "stratum" ascii wide
    condition:
        filesize < 50MB and any of ($n*) and any of ($p*)
}

rule Miner_Persistence_Cron : miner linux
{
    meta:
        description = "Crontab entry that re-downloads a miner script every few minutes"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $cron = /\*\/\d{1,2}\s+\*\s+\*\s+\*\s+\*\s+[^\r\n]{0,80}(curl|wget)\s+[^\r\n]{0,200}\|\s*(ba)?sh/
        $m1 = "xmr" nocase
        $m2 = "miner" nocase
        $m3 = "pool" nocase
    condition:
        filesize < 1MB and $cron and any of ($m*)
}
