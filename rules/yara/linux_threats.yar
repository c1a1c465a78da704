/*
    Argus YARA rules: Linux and server-side threats (reverse shells, persistence, backdoors).
    SPDX-License-Identifier: Apache-2.0
*/

rule Linux_Reverse_Shell_Bash : backdoor linux
{
    meta:
        description = "Bash reverse shell through /dev/tcp or /dev/udp"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /(ba|z)?sh\s+-i\s+[>&]{1,2}\s*\/dev\/(tcp|udp)\/[0-9a-zA-Z.\-]{3,64}\/\d{1,5}/
        $b = /exec\s+\d+<>\/dev\/tcp\/[0-9a-zA-Z.\-]{3,64}\/\d{1,5}/
    condition:
        filesize < 5MB and any of them
}

rule Linux_Reverse_Shell_Scripting : backdoor linux
{
    meta:
        description = "Python, Perl, Ruby or PHP reverse shell one-liner (socket + dup2/exec of a shell)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $py = /socket\.socket\([^)]{0,60}\)[^\n]{0,200}os\.dup2\([^\n]{0,200}(pty\.spawn|subprocess\.call)\(\s*\[?["']\/bin\/(ba)?sh/
        $pl = /use\s+Socket;[^\n]{0,300}open\(STDIN,\s*["']>&S["']\)/
        $rb = /TCPSocket\.(new|open)\([^)]{1,80}\)[^\n]{0,200}(exec|spawn)[^\n]{0,40}\/bin\/(ba)?sh/
        $php = /fsockopen\([^)]{1,80}\)[^\n]{0,200}(exec|shell_exec|system|proc_open)\(\s*["']\/bin\/(ba)?sh\s+-i/
    condition:
        filesize < 5MB and any of them
}

rule Linux_Netcat_Exec_Shell : backdoor linux
{
    meta:
        description = "netcat or socat serving a shell (-e /bin/sh, exec:)"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $nc1 = /\b(nc|ncat|netcat)(\.traditional)?\s+[^\n|;]{0,60}-e\s+\/bin\/(ba)?sh/
        $nc2 = /mkfifo\s+\/tmp\/[a-z0-9_.]{1,20};\s*(nc|cat)\s+[^\n]{0,100}\/bin\/(ba)?sh\s+-i/
        $so = /socat\s+[^\n]{0,80}exec:["']?(\/bin\/)?(ba)?sh\s+-li/ nocase
    condition:
        filesize < 5MB and any of them
}

rule Linux_Curl_Pipe_Shell_Persistence : dropper linux
{
    meta:
        description = "Download-and-run piped into a shell together with a persistence or history-wiping step"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $dl = /(curl|wget)\s+[^\n|]{1,200}\|\s*(ba)?sh/
        $p1 = "crontab -" ascii
        $p2 = "/etc/cron.d/" ascii
        $p3 = "/etc/rc.local" ascii
        $p4 = "systemctl enable" ascii
        $h1 = "history -c" ascii
        $h2 = "unset HISTFILE" ascii
        $h3 = "chattr +i" ascii
    condition:
        filesize < 2MB and $dl and any of ($p*) and any of ($h*)
}

rule Linux_SSH_Key_Injection : backdoor linux
{
    meta:
        description = "Script appending an attacker key to root's authorized_keys and locking it"
        author = "Argus"
        verdict = "malicious"
    strings:
        $k = /echo\s+["']?ssh-(rsa|ed25519)\s+AAAA[A-Za-z0-9+\/]{40,}[^\n]{0,120}>>\s*\/root\/\.ssh\/authorized_keys/
        $c = "chattr +i /root/.ssh/authorized_keys" ascii
        $p = "PermitRootLogin yes" ascii
    condition:
        filesize < 2MB and ($k or ($c and $p))
}

rule Linux_Log_And_Trace_Wiping : evasion linux
{
    meta:
        description = "Script wiping logs and shell history after intrusion"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $l1 = "> /var/log/wtmp" ascii
        $l2 = "> /var/log/lastlog" ascii
        $l3 = "rm -rf /var/log/" ascii
        $l4 = "echo > /var/log/secure" ascii
        $l5 = "cat /dev/null > /var/log/auth.log" ascii
        $h1 = "history -c" ascii
        $h2 = "unset HISTFILE" ascii
        $h3 = "export HISTFILESIZE=0" ascii
    condition:
        filesize < 2MB and 2 of ($l*) and any of ($h*)
}

rule Linux_Container_Escape_Tooling : container linux
{
    meta:
        description = "Container escape: mounting the host disk or cgroup release_agent abuse"
        author = "Argus"
        verdict = "suspicious"
    strings:
        $r1 = "release_agent" ascii
        $r2 = "notify_on_release" ascii
        $m1 = "mount -t cgroup" ascii
        $m2 = "nsenter --target 1 --mount" ascii
        $m3 = "/var/run/docker.sock" ascii
        $m4 = "chroot /host" ascii
    condition:
        filesize < 2MB and (($r1 and $r2 and $m1) or ($m2) or ($m3 and $m4))
}

rule Linux_Tsunami_Kaiten_IRC_Bot : botnet linux malware
{
    meta:
        description = "Tsunami/Kaiten IRC DDoS bot (source or binary)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $s1 = "NOTICE %s :TSUNAMI" ascii
        $s2 = "NOTICE %s :PAN" ascii
        $s3 = "Kaiten wa goraku" ascii
        $s4 = "NOTICE %s :UDP" ascii
        $s5 = ":KILLALL" ascii
        $s6 = "GETSPOOFS" ascii
    condition:
        filesize < 2MB and 3 of them
}

rule Linux_PHP_Perl_IRC_Bot : botnet malware
{
    meta:
        description = "Perl/PHP IRC bot with flood and shell commands (ShellBot family)"
        author = "Argus"
        verdict = "malicious"
    strings:
        $i1 = "PRIVMSG" ascii
        $i2 = "JOIN #" ascii
        $c1 = "!udpflood" nocase ascii
        $c2 = "!tcpflood" nocase ascii
        $c3 = "!httpflood" nocase ascii
        $c4 = "!portscan" nocase ascii
        $c5 = "!shell" nocase ascii
        $c6 = "!bot" ascii
    condition:
        filesize < 2MB and all of ($i*) and 3 of ($c*)
}

rule Linux_Setuid_Shell_Drop : backdoor linux
{
    meta:
        description = "Script planting a setuid copy of a shell"
        author = "Argus"
        verdict = "malicious"
    strings:
        $a = /cp\s+\/bin\/(ba|da|z)?sh\s+\/(tmp|var\/tmp|dev\/shm)\/[^\n;]{1,40};?\s*chmod\s+(u\+s|[4-7][0-7]{3})\s+\/(tmp|var\/tmp|dev\/shm)\// 
        $b = /chmod\s+(u\+s|4755)\s+\/(tmp|var\/tmp|dev\/shm)\/\.[a-z0-9]{1,20}/
    condition:
        filesize < 2MB and any of them
}
