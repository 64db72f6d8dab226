"""taxi_tips: will a Chicago taxi rider tip more than 20 % of the fare?"""
